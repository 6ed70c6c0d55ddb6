#!/bin/bash
# Build the payload that takes vLLM 0.24.0 to a GPU machine with no network whose image has
# python 3.12 and torch 2.11.0, in parts small enough for a call that carries 64 MiB
# (docs/vllm.md, "Real-GPU comparison (H200)"):
#
#   tools/vllm_compare/gpu_payload.sh VLLM_WHEEL OUTDIR [PARTS]      # here, with network
#   # there: the parts to /tmp/p (one a call), then
#   bash OUTDIR/unpack.sh && tools/vllm_compare/gpu_run.sh NAME POINTS SECONDS [run_points args]
#
# The wheel is installed without what Hopper runs do not use (FA2's 190 MB library: FA3 is
# Hopper's default; the Rust front end; DeepGEMM and the SM100 attention), the wheels of
# gpu_payload_reqs.txt beside it (xgrammar without its static library), for python 3.12
# (PY312, default python3.12), xz-compressed (XZ_LEVEL, default -6) and split into PARTS (default 4)
# with a checksum.
set -euo pipefail
wheel=$1 out=$2 parts=${3:-4}
py=${PY312:-python3.12}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/whl" "$work/site" "$work/pay"
plat=()
for p in manylinux_2_35 manylinux_2_34 manylinux_2_31 manylinux_2_28 manylinux_2_27 manylinux_2_24 \
         manylinux_2_17 manylinux2014 manylinux1; do plat+=(--platform "${p}_x86_64"); done
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${plat[@]}" -d "$work/whl" -r "$here/gpu_payload_reqs.txt"
"$py" -m pip install -q --no-deps --no-compile --no-index --target "$work/site" "$wheel" "$work"/whl/*.whl
cd "$work/site"
rm -rf bin vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so vllm/vllm-rs vllm/third_party/deep_gemm \
  vllm/third_party/fmha_sm100 xgrammar/lib/*.a
find . -name __pycache__ -prune -exec rm -rf {} +
tar cf - vllm vllm-*.dist-info | xz "${XZ_LEVEL:--6}" -T0 > "$work/pay/vllm.tar.xz"
tar cf - $(ls | grep -v '^vllm') | xz "${XZ_LEVEL:--6}" -T0 > "$work/pay/deps.tar.xz"
tar cf "$work/payload.tar" -C "$work/pay" vllm.tar.xz deps.tar.xz
sum=$(sha256sum "$work/payload.tar" | cut -d' ' -f1)
rm -f "$out"/part*
split -n "$parts" -d -a 1 "$work/payload.tar" "$out/part"
cat > "$out/unpack.sh" <<UNPACK
#!/bin/bash
# Reassemble the parts copied to /tmp/p, unpack vLLM and its dependencies into /tmp/site.
set -euo pipefail
cd /tmp/p
cat part* > /tmp/payload.tar
echo "$sum  /tmp/payload.tar" | sha256sum -c
tar xf /tmp/payload.tar -C /tmp/p && rm -f /tmp/payload.tar part*
mkdir -p /tmp/site
for t in vllm deps; do tar -I "xz -T0" -xf /tmp/p/\$t.tar.xz -C /tmp/site; done
du -sh /tmp/site
UNPACK
ls -la "$out"
