"""Predictor core and training on synthetic profiles (a made-up GPU law, not real-GPU figures)."""

from __future__ import annotations

import ctypes
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import profile_data
import pytest

from revati.devices import get_profile
from revati.errors import NativeBuildError, RevatiError, UnknownNameError
from revati.predictors import dataset, features, native, registry, train
from revati.predictors.base import PredictorOptions


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, train.TrainResult]:
    base = tmp_path_factory.mktemp("predict")
    ds = profile_data.write(base / "ds")
    r = train.train([ds], base / "model")
    return ds, base / "model", r


def test_family_from_name_and_op() -> None:
    """Families come from the op's library first, else from the kernel name."""
    assert features.family("nvjet_sm90_tst_128x128") == "gemm"
    assert features.family("xyz", '{"lib":"cublasLt","op":"matmul","m":1}') == "gemm"
    assert features.family("pytorch_flash::flash_fwd_kernel") == "attention"
    assert features.family("at::native::vectorized_elementwise_kernel<add>") == "elementwise"
    assert features.family("ncclDevKernel_AllReduce") == "comm"
    assert features.family("some_custom_kernel") == "other"
    # inductor's Triton kernels: the prefix says pointwise or reduction
    assert features.family("triton_poi_fused_add_mul_4") == "elementwise"
    assert features.family("triton_red_fused__to_copy_add_mean_0") == "reduce"
    assert features.family("triton_per_fused_add_pow_1") == "reduce"
    sdpa = '{"lib":"cudnn","op":"sdpa_fwd","batch":8,"heads":32,"seqlen_q":1,"seqlen_k":1024}'
    assert features.family("cudnn_generated_fort_native_sdpa_sm80", sdpa) == "attention"
    # a helper kernel launched inside the attention call is classified by its own name
    assert features.family("_ZN5cudnn6fusion21lean_reduction_kernelILb0E", sdpa) == "reduce"


def test_family_answers_are_kept_by_contents() -> None:
    """The native core keeps each (name, op) answer: asking again, with the same name under another
    op, or through one buffer whose text changed in between, still answers by the strings' contents."""
    lib = native.lib()
    cublas = b'{"lib":"cublasLt","op":"matmul","m":1}'
    for _ in range(3):
        assert features.family("xyz") == "other"
        assert features.family("xyz", cublas.decode()) == "gemm"
    buf = ctypes.create_string_buffer(64)
    names = [b"ncclDevKernel_AllReduce", b"flash_fwd_kernel", b"plain_kernel", b"reduce_kernel"]
    for name in names * 2:  # one address, four texts, twice over
        buf.value = name
        assert features.FAMILIES[lib.rv_pf_family(buf, None)] == features.family(name.decode())
    assert [features.family(n.decode()) for n in names] == ["comm", "attention", "other", "reduce"]
    for i in range(2000):  # more distinct names than the native table holds: entries are replaced
        assert features.family(f"k{i}_gemm" if i % 2 else f"k{i}_softmax") == (
            "gemm" if i % 2 else "reduce"
        )


def _feature(name: str, args: str, feature: str, grid=(264, 2, 1), block=(512, 1, 1)) -> float:
    df = pd.DataFrame([{"name": name, "gx": grid[0], "gy": grid[1], "gz": grid[2], "bx": block[0],
                        "by": block[1], "bz": block[2], "smem": 0, "args": args, "op": "",
                        "sig": ""}])  # fmt: skip
    return float(features.matrix(df, get_profile("h200"))[0][features.FEATURE_NAMES.index(feature)])


def test_elementwise_work_features() -> None:
    """cat's element count comes from its output's TensorSizeStride (Dims sizes, 32-bit, two to a
    word); a vectorized kernel's width gives its element size; elements per thread are logged."""
    cat = ("_ZN2at6native40_GLOBAL__N__0f1a8107_8_Shape_cu_49f7391c19CatArrayBatchedCopyINS1_10"
           "OpaqueTypeILj2EEEjLi4ELi64ELi64EEEvPT_NS1_25CatArrInputTensorMetadataIS5_T0_XT2_EXT3_EEE")  # fmt: skip
    sizes = [16 | 32 << 32, 1024 | 64 << 32, 2097152 | 65536 << 32, 64 | 1 << 32]  # [16,32,1024,64]
    args = json.dumps([None, [None, 7, 7], sizes, 3, 1])
    assert np.exp2(_feature(cat, args, "log_elems")) - 1 == pytest.approx(16 * 32 * 1024 * 64)
    assert _feature(cat, args, "dtype_bytes") == 2
    per_thread = _feature(cat, args, "log_elems_per_thread")
    assert per_thread == pytest.approx(np.log2(16 * 32 * 1024 * 64 / (264 * 2 * 512)))
    vec = "_ZN2at6native29vectorized_elementwise_kernelILi4ENS0_13AUnaryFunctorIfffNS0_15MulFunctorIfEEEE"
    assert _feature(vec, "[1000000,0,[null,null]]", "vec") == 4
    assert _feature(vec, "[1000000,0,[null,null]]", "dtype_bytes") == 4  # 16-byte vectors of floats
    assert np.isnan(_feature(cat, args, "vec"))
    # a bit mask (2^36 - 1) is no element count: the next scalar is taken
    assert np.exp2(
        _feature("randperm_kernel", "[null,null,68719476735,97656]", "log_elems")
    ) - 1 == (pytest.approx(97656))


def test_layer_norm_work_is_its_rows_times_their_length() -> None:
    """torch's vectorized_layer_norm_kernel leads with the row length N; one block per row: the
    element count is N x rows, and rows and N are its dimensions (a float kernel: 4-byte elements)."""
    ln = ("_ZN2at6native53_GLOBAL__N__21739cd4_20_layer_norm_kernel_cu_9c5ada8a28vectorized_layer_"
          "norm_kernelIN3c108BFloat16EfLb1EEEviT0_PKT_S8_S8_PS5_S9_PS6_")  # fmt: skip
    args = "[8192,925353388,null,null,0,0,null,null]"
    grid, block = (64, 1, 1), (32, 4, 1)
    assert np.exp2(_feature(ln, args, "log_elems", grid, block)) - 1 == pytest.approx(8192 * 64)
    assert np.exp2(_feature(ln, args, "log_d0", grid, block)) - 1 == pytest.approx(64)
    assert np.exp2(_feature(ln, args, "log_d1", grid, block)) - 1 == pytest.approx(8192)
    assert _feature(ln, args, "log_elems_per_thread", grid, block) == pytest.approx(np.log2(64))
    assert _feature(ln, args, "dtype_bytes", grid, block) == 2
    fp32 = ln.replace(
        "kernelIN3c108BFloat16EfLb1EEEviT0_PKT_S8_S8_PS5_S9_PS6_",
        "kernelIffLb1EEEviT0_PKT_S6_S6_PS3_S7_PS4_",
    )
    assert _feature(fp32, args, "dtype_bytes", grid, block) == 4
    # any other kernel keeps the leading scalar as its element count
    assert np.exp2(_feature("my_rms_norm_kernel", args, "log_elems", grid, block)) - 1 == (
        pytest.approx(8192)
    )


def test_feature_constants_come_from_the_c_header() -> None:
    """Python reads RV_PF_N and RV_PF_SCHEMA from predict.h, the header the driver is built with."""
    text = native.PREDICT_H.read_text()
    assert f"#define RV_PF_SCHEMA {features.SCHEMA_VERSION} " in text
    assert native.FEATURE_COUNT == len(features.FEATURE_NAMES)
    with pytest.raises(NativeBuildError, match="RV_PF_NOPE"):
        native.header_define("RV_PF_NOPE")


def test_xgb_never_times_more_work_shorter(tmp_path: Path) -> None:
    """Where xgb learns raw durations (elementwise, reduce), its answer does not fall as the element
    count grows with the rest of the launch unchanged, even past noisy rows that would teach it to."""
    from revati.predictors import xgb

    rng = np.random.default_rng(1)
    n = rng.integers(10, 26, 400).astype(float)  # log2 elements
    feats = np.full((400, native.FEATURE_COUNT), np.nan)
    feats[:, 0] = features.FAMILIES.index("reduce")
    feats[:, features.FEATURE_NAMES.index("log_elems")] = n
    feats[:, features.FEATURE_NAMES.index("threads")] = 128
    dur = 2000 + np.exp2(n) / 4 * rng.uniform(0.5, 2.0, 400)
    dur[np.abs(n - 20) < 0.5] *= 50  # a few slow outliers in the middle
    assert xgb.fit(feats, dur, tmp_path / "m.json")
    import xgboost

    booster = xgboost.Booster(model_file=str(tmp_path / "m.json"))
    grid = np.full((61, native.FEATURE_COUNT), np.nan)
    grid[:, 0] = feats[0, 0]
    grid[:, features.FEATURE_NAMES.index("log_elems")] = np.linspace(10, 26, 61)
    grid[:, features.FEATURE_NAMES.index("threads")] = 128
    pred = booster.predict(xgboost.DMatrix(grid.astype(np.float32), missing=np.nan))
    assert np.all(np.diff(pred) >= -1e-6)


def test_attention_bytes_count_kv_heads_once() -> None:
    """Grouped-query decode reads K and V per KV head: 4x fewer bytes than per query head."""

    def bytes_of(heads_kv: int) -> float:
        op = json.dumps({"lib": "cudnn", "op": "sdpa_fwd", "batch": 8, "heads": 32,
                         "heads_kv": heads_kv, "head_dim": 64, "seqlen_q": 1, "seqlen_k": 4096})  # fmt: skip
        df = pd.DataFrame([{"name": "cudnn_generated_fort_native_sdpa", "gx": 1, "gy": 32, "gz": 8,
                            "bx": 128, "by": 1, "bz": 1, "smem": 0, "args": "", "op": op,
                            "sig": ""}])  # fmt: skip
        return float(np.exp2(features.matrix(df, get_profile("h200"))[0][2]) - 1)

    q_o = 8 * 32 * 64 * 2 * 2  # Q and O, bf16
    assert bytes_of(32) == pytest.approx(q_o + 8 * 32 * 4096 * 64 * 2 * 2, rel=1e-6)
    assert bytes_of(8) == pytest.approx(q_o + 8 * 8 * 4096 * 64 * 2 * 2, rel=1e-6)


def test_gemm_features_have_physical_meaning() -> None:
    """A GEMM's FLOPs are 2mnk and its roofline time is FLOPs over the profile's bf16 peak."""
    op = json.dumps(
        {"lib": "cublasLt", "op": "matmul", "m": 8192, "n": 8192, "k": 8192, "dtype": "bf16"}
    )
    df = pd.DataFrame([{"name": "nvjet_x", "gx": 64, "gy": 64, "gz": 1, "bx": 384, "by": 1, "bz": 1,
                        "smem": 0, "args": "", "op": op, "sig": ""}])  # fmt: skip
    h200 = get_profile("h200")
    f = features.matrix(df, h200)[0]
    flops = 2 * 8192**3
    assert np.exp2(f[1]) - 1 == pytest.approx(flops, rel=1e-9)
    assert features.roofline_ns(f[None])[0] == pytest.approx(
        flops / (h200.peak_bf16_tflops * 1e3), rel=1e-6
    )
    assert f[8] == pytest.approx(np.log2(8193))


def test_heldout_split_keeps_whole_shapes_apart(trained) -> None:
    """No shape has rows on both sides of the held-out split."""
    ds_path, _, _ = trained
    ds = dataset.load([ds_path])
    k = ds.kernels
    fams = features.matrix(k, ds.device)[:, 0].astype(int)
    test = train.split_by_shape(k, fams, 0.2)
    keys = np.array([dataset.shape_key(r) for r in k.itertuples(index=False)])
    assert test.any() and (~test).any()
    assert not set(keys[test]) & set(keys[~test])


def test_launch_weights_count_each_launch_configuration_once() -> None:
    """Rows of one launch configuration (same name, geometry and op; per-call values in the
    parameters give them different signatures) share a weight of 1; rows without an op are told
    apart by their args."""
    row = {"name": "k", "gx": 1, "gy": 1, "gz": 1, "bx": 128, "by": 1, "bz": 1, "smem": 0}
    op_a, op_b = '{"lib":"fa3","batch":1}', '{"lib":"fa3","batch":8}'
    k = pd.DataFrame([{**row, "op": op_a, "args": f"[{i}]", "sig": f"s{i}"} for i in range(4)]
                     + [{**row, "op": op_b, "args": "[0]", "sig": "t"},
                        {**row, "op": "", "args": "[1]", "sig": "u"},
                        {**row, "op": "", "args": "[2]", "sig": "v"}])  # fmt: skip
    w = dataset.launch_weights(k)
    assert w.tolist() == [0.25] * 4 + [1.0, 1.0, 1.0]


def test_train_reports_and_records_provenance(trained) -> None:
    """The model records the data hash and the feature schema; held-out GEMM error is small on a
    physical law for the learned predictors."""
    _, model, r = trained
    info = json.loads((model / "model.json").read_text())
    assert info["data_sha256"] == r.digest and len(r.digest) == 64
    assert info["feature_schema"] == features.SCHEMA_VERSION
    gemm = next(s for s in r.scores if s.family == "gemm")
    assert gemm.rows > 10
    assert gemm.mape["xgb"] < 10 and gemm.mape["roofline"] < 10
    text = train.format_scores(r)
    assert "gemm" in text and "MAPE" in text
    assert (model / "xgb-gemm.json").is_file()


def test_native_table_is_exact_on_profiled_signatures(trained) -> None:
    """A profiled signature gets its measured median back, marked exact."""
    ds_path, model, _ = trained
    k = pd.read_parquet(ds_path / "kernels.parquet").iloc[[7]]
    m = native.NativeModel(model, "table")
    try:
        dur, how, src = m.predict(features.launches(k)[0])
    finally:
        m.close()
    assert (how, src) == ("exact", "table")
    assert dur == pytest.approx(float(k["dur_ns"].iloc[0]), abs=0.1)


def test_native_table_interpolates_unseen_shapes(trained) -> None:
    """An unprofiled GEMM size between two profiled ones is interpolated between them."""
    _, model, _ = trained
    op = json.dumps(
        {"lib": "cublasLt", "op": "matmul", "m": 3000, "n": 4096, "k": 4096, "dtype": "bf16"}
    )
    k = native.pkernel(
        "nvjet_sm90_tst_128x128", (32, 24, 1), (384, 1, 1), 200704, None, op, "00000000deadbeef"
    )
    m = native.NativeModel(model, "table")
    try:
        dur, how, _ = m.predict(k)
    finally:
        m.close()
    expect = 2 * 3000 * 4096 * 4096 / profile_data.PEAK_FLOP_PER_NS + profile_data.LAUNCH_NS
    assert how == "interpolated"
    assert dur == pytest.approx(expect, rel=0.1)


def test_xgb_generalises_to_an_unseen_large_gemm(trained) -> None:
    """xgb (evaluated natively through libxgboost) times an unprofiled GEMM within 10%."""
    from revati.predictors import xgb

    _, model, _ = trained
    op = json.dumps(
        {"lib": "cublasLt", "op": "matmul", "m": 6000, "n": 6000, "k": 6000, "dtype": "bf16"}
    )
    k = native.pkernel("nvjet_sm90_tst_128x128", (47, 47, 1), (384, 1, 1), 200704, None, op, None)
    m = native.NativeModel(model, "xgb", xgb.lib_path())
    try:
        dur, how, src = m.predict(k)
        again = m.predict(k)  # cached
    finally:
        m.close()
    expect = 2 * 6000**3 / profile_data.PEAK_FLOP_PER_NS + profile_data.LAUNCH_NS
    assert (how, src) == ("model", "xgb")
    assert dur == pytest.approx(expect, rel=0.1)
    assert again == (dur, how, src)


def test_cross_device_factor_follows_the_profiles() -> None:
    """H200 -> H100: a memory-bound launch at its roofline scales by the bandwidth ratio, a large
    GEMM by the compute ratio (equal peaks: factor 1)."""
    so = native.lib()
    h200, h100 = native.pdev(get_profile("h200")), native.pdev(get_profile("h100"))
    ew = native.pkernel(
        "vectorized_elementwise_kernel", (1024, 1, 1), (128, 1, 1), 0, "[268435456,null]"
    )
    f = so.rv_pf_cross_factor(ew, h200, h100, 0.0)
    assert f == pytest.approx(4800.0 / 3352.0, rel=1e-6)
    op = json.dumps({"lib": "cublasLt", "op": "matmul", "m": 8192, "n": 8192, "k": 8192})
    gemm = native.pkernel("nvjet", (64, 64, 1), (384, 1, 1), 0, None, op)
    assert so.rv_pf_cross_factor(gemm, h200, h100, 0.0) == pytest.approx(1.0)


def test_cross_device_factor_moves_only_the_roofline_share() -> None:
    """A launch that takes twice its roofline time on the H200 keeps the other half on the H100:
    only its roofline time is replaced by the H100's (memory-bound: x bandwidth ratio)."""
    so = native.lib()
    h200, h100 = native.pdev(get_profile("h200")), native.pdev(get_profile("h100"))
    ew = native.pkernel(
        "vectorized_elementwise_kernel", (1024, 1, 1), (128, 1, 1), 0, "[268435456,null]"
    )
    a = so.rv_pf_roofline_ns(ew, h200)
    ratio = 4800.0 / 3352.0
    assert so.rv_pf_roofline_ns(ew, h100) == pytest.approx(a * ratio, rel=1e-6)
    assert so.rv_pf_cross_factor(ew, h200, h100, 2 * a) == pytest.approx((1 + ratio) / 2, rel=1e-6)
    # far from its roofline: hardly moves; at or under it: the whole ratio
    assert so.rv_pf_cross_factor(ew, h200, h100, 100 * a) == pytest.approx(1 + (ratio - 1) / 100)
    assert so.rv_pf_cross_factor(ew, h200, h100, 0.5 * a) == pytest.approx(ratio, rel=1e-6)


def test_cross_device_factor_scales_a_gemm_past_its_fixed_latency() -> None:
    """A memory-bound GEMM (a decode GEMV reading its weights) keeps its efficiency on the other
    card: all its time but the first 2 us scales by the roofline ratio, however far from the
    roofline it runs; a GEMM shorter than that does not move."""
    so = native.lib()
    h200, h100 = native.pdev(get_profile("h200")), native.pdev(get_profile("h100"))
    op = json.dumps({"lib": "cublas", "op": "gemm", "m": 8192, "n": 1, "k": 8192, "dtype": "bf16"})
    gemv = native.pkernel(
        "nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT", (2, 64, 1), (384, 1, 1), 0, None, op
    )
    a = so.rv_pf_roofline_ns(gemv, h200)
    ratio = so.rv_pf_roofline_ns(gemv, h100) / a
    assert ratio == pytest.approx(4800.0 / 3352.0, rel=0.01)  # bound by reading the weights
    for src in (1.25 * a, 3 * a):
        want = (2000 + (src - 2000) * ratio) / src
        assert so.rv_pf_cross_factor(gemv, h200, h100, src) == pytest.approx(want, rel=1e-9)
    assert so.rv_pf_cross_factor(gemv, h200, h100, 1500.0) == pytest.approx(ratio)  # under a


def test_host_costs_interpolate_over_bytes(trained) -> None:
    """Host cost rows: per call, interpolated over bytes; unknown calls have none."""
    _, model, _ = trained
    m = native.NativeModel(model, "roofline")
    try:
        assert m.host_ns("cuLaunchKernel") == pytest.approx(2100.0)
        assert m.host_ns("cuMemcpyHtoDAsync_v2", 1 << 19) == pytest.approx(4000.0, rel=0.01)
        assert m.host_ns("cuNoSuchCall") < 0
    finally:
        m.close()


def test_registry_names_and_errors(tmp_path: Path) -> None:
    """Unknown names list the choices; duplicates raise; predictors check their inputs."""
    assert {"analytical", "table", "roofline", "xgb", "recorded"} <= set(registry.names())
    with pytest.raises(UnknownNameError, match="choose one of"):
        registry.resolve("nope")
    with pytest.raises(RevatiError, match="already registered"):
        registry.register("xgb", "x:y")
    with pytest.raises(RevatiError, match="revati replay"):
        registry.resolve("recorded")
    with pytest.raises(RevatiError, match="not a model directory"):
        registry.resolve("xgb", PredictorOptions(model=tmp_path))


def test_model_of_another_schema_is_refused(trained, tmp_path: Path) -> None:
    """A model trained under another feature schema is refused in one line (retrain it)."""
    _, model, _ = trained
    bad = tmp_path / "m"
    bad.mkdir()
    (bad / "model.tsv").write_text(
        (model / "model.tsv")
        .read_text()
        .replace(f"schema\t{features.SCHEMA_VERSION}", "schema\t99")
    )
    info = json.loads((model / "model.json").read_text())
    info["feature_schema"] = 99
    (bad / "model.json").write_text(json.dumps(info))
    with pytest.raises(RevatiError, match="retrain"):
        registry.resolve("roofline", PredictorOptions(model=bad))
    with pytest.raises(RevatiError, match="schema"):
        native.NativeModel(bad, "roofline")


def test_train_cli_errors_are_one_line(tmp_path: Path) -> None:
    """revati train on a folder that is not a dataset: one line, exit 1."""
    r = subprocess.run(
        [sys.executable, "-m", "revati", "train", str(tmp_path), "--out", str(tmp_path / "m")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "not a profile dataset" in r.stderr


def test_native_tree_walk_equals_libxgboost(trained, monkeypatch) -> None:
    """The driver's tree walk gives XGBoost's own predictions (through libxgboost.so, dlopen'ed)."""
    from revati.predictors import xgb

    ds_path, model, _ = trained
    k = pd.read_parquet(ds_path / "kernels.parquet").sample(40, random_state=1)
    launches = features.launches(k.assign(sig=""))
    walked = native.NativeModel(model, "xgb", xgb.lib_path())
    monkeypatch.setenv("REVATI_XGB_ENGINE", "libxgboost")
    lib = native.NativeModel(model, "xgb", xgb.lib_path())
    try:
        a = [walked.predict(x, cached=False) for x in launches]
        b = [lib.predict(x, cached=False) for x in launches]
    finally:
        walked.close()
        lib.close()
    assert all(x[2] == "xgb" for x in a)
    for (da, _, _), (db, _, _) in zip(a, b, strict=True):
        assert da == pytest.approx(db, rel=1e-5)


def test_host_costs_match_across_abi_versions(trained) -> None:
    """A call profiled as cuMemcpyHtoDAsync_v2 answers for cuMemcpyHtoDAsync and its _ptsz form."""
    _, model, _ = trained
    m = native.NativeModel(model, "roofline")
    try:
        for name in ("cuMemcpyHtoDAsync", "cuMemcpyHtoDAsync_v2_ptsz", "cuMemcpyHtoDAsync_v3"):
            assert m.host_ns(name, 0) == pytest.approx(3000.0)
    finally:
        m.close()


def test_default_predictor_is_the_best_on_heldout_shapes(trained, tmp_path: Path) -> None:
    """Without --predictor, a model's best predictor on held-out rows is used; no model: analytical."""
    _, model, _ = trained
    info = json.loads((model / "model.json").read_text())
    rows = {f: v["rows"] for f, v in info["heldout"].items()}
    mean = {
        m: sum(v["mape_pct"][m] * rows[f] for f, v in info["heldout"].items()) / sum(rows.values())
        for m in ("table", "roofline", "xgb")
    }
    assert registry.default_name(model) == min(mean, key=mean.get)
    assert registry.default_name(tmp_path) == "analytical"


def test_roofline_times_kernels_without_flops_by_their_threads(tmp_path: Path) -> None:
    """'other' kernels (no FLOPs/bytes) get a duration-over-threads curve: an unseen size lands
    between its profiled neighbours, marked model."""
    rows = [
        {"name": f"custom_{i}", "gx": g, "gy": 1, "bx": 256, "dur_ns": 2000.0 + g * 10.0}
        for i, g in enumerate((1, 4, 16, 64, 256, 1024, 4096))
    ]
    ds = profile_data.write_rows(tmp_path / "ds", rows)
    train.train([ds], tmp_path / "m", with_xgb=False)
    m = native.NativeModel(tmp_path / "m", "roofline")
    try:
        dur, how, src = m.predict(native.pkernel("custom_new", (512, 1, 1), (256, 1, 1)))
    finally:
        m.close()
    assert (how, src) == ("model", "roofline")
    assert 2000 + 256 * 10 < dur < 2000 + 1024 * 10


def test_bundled_model_is_trained_on_the_shipped_dataset() -> None:
    """The bundled model records the sha256 of the shipped datasets it names, revati/profiles/data/h200
    among them (retrain when one changes)."""
    root = Path(__file__).resolve().parents[2]
    d = registry.bundled_model_dir()
    info = json.loads((d / "model.json").read_text())
    assert "revati/profiles/data/h200" in info["datasets"]
    named = info["datasets"] + info.get("scaled_datasets", [])
    assert all((root / p).is_dir() for p in named)  # shipped, named from the repo root
    digest = dataset.load([root / p for p in info["datasets"]]).digest
    if info.get("scaled_datasets"):  # other devices' data scaled in (revati train --scaled)
        other = dataset.load([root / p for p in info["scaled_datasets"]]).digest
        digest = hashlib.sha256((digest + other).encode()).hexdigest()
    assert info["data_sha256"] == digest
    assert info["device"] == "H200-SXM-141GB" and info["feature_schema"] == features.SCHEMA_VERSION
    assert registry.default_name() == "xgb"


def test_the_sweeps_marker_kernel_is_not_trained_on(tmp_path: Path) -> None:
    """torch.cuda._sleep's spin kernel (profile_sweep.py's case marker, ~0.5 ms) is dropped when a
    dataset is read, so it never teaches the "other" family that small kernels take that long."""
    ds = profile_data.write(tmp_path / "ds")
    k = pd.read_parquet(ds / "kernels.parquet")
    spin = k.iloc[[0]].assign(
        name="_ZN2at4cuda40_GLOBAL__N__758183f4_8_Sleep_cu_088d913f11spin_kernelEl", dur_ns=5e5
    )
    pd.concat([k, spin], ignore_index=True).to_parquet(ds / "kernels.parquet")
    loaded = dataset.load([ds]).kernels
    assert len(loaded) == len(k)
    assert not loaded["name"].str.contains("spin_kernel").any()


def test_xgb_keeps_the_measurement_of_a_profiled_signature(trained) -> None:
    """xgb answers a launch whose signature the profile measured with that measurement (exact)."""
    from revati.predictors import xgb

    ds_path, model, _ = trained
    k = pd.read_parquet(ds_path / "kernels.parquet").iloc[[3]]
    m = native.NativeModel(model, "xgb", xgb.lib_path())
    try:
        dur, how, src = m.predict(features.launches(k)[0])
    finally:
        m.close()
    assert (how, src) == ("exact", "table")
    assert dur == pytest.approx(float(k["dur_ns"].iloc[0]), abs=0.1)
