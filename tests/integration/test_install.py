"""revati installs from its source distribution and from a wheel, not only as an editable install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIP = {".git", ".venv", "build", "dist", "runs", "lib", "__pycache__", ".pytest_cache"}


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)  # type: ignore[call-overload]
    assert r.returncode == 0, f"{cmd} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.mark.slow
def test_sdist_then_wheel_installs_and_records(tmp_path: Path) -> None:
    """An sdist builds, a wheel builds from it (native libraries inside, platform tag), and the
    wheel installed into a fresh venv records a run; the source tree gets no build output."""
    src = tmp_path / "src"
    shutil.copytree(
        REPO,
        src,
        ignore=lambda d, names: [n for n in names if n in SKIP or n.endswith(".egg-info")],
    )
    dist = tmp_path / "dist"
    _run(
        [
            sys.executable,
            "-c",
            f"from setuptools import build_meta as b; b.build_sdist({str(dist)!r})",
        ],
        cwd=src,
    )
    (sdist,) = dist.glob("revati-*.tar.gz")
    with tarfile.open(sdist) as t:
        names = t.getnames()
    assert any(n.endswith("revati/native/build.py") for n in names)
    assert any(n.endswith("revati/native/core/trace.c") for n in names)
    assert not any("/native/lib/" in n for n in names), "an sdist must not ship built libraries"

    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "wheel", "--no-build-isolation", "--no-deps", "-q", "-w", str(wheels), str(sdist)])
    (whl,) = wheels.glob("revati-*.whl")
    assert "-py3-none-linux" in whl.name, whl.name
    with zipfile.ZipFile(whl) as z:
        libs = {Path(n).name for n in z.namelist() if "/native/lib/" in n}
    assert {"libcuda.so.1", "libnvidia-ml.so.1", "librevati.so", "INSTALLED"} <= libs

    # a fresh venv that sees this interpreter's packages (numpy, pandas, ...) through a .pth file;
    # --ignore-installed: an editable revati seen there must not be uninstalled or count as installed
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    vpy = venv / "bin" / "python"
    purelib = _run([str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    (Path(purelib.stdout.strip()) / "parent.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    _run([*pip, "--python", str(vpy), "install", "--no-deps", "--ignore-installed", "-q", str(whl)])

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = _run(
        [str(vpy), "-c", "import revati.native.build as b; print(b.lib_dir())"],
        env=env,
        cwd=tmp_path,
    )
    assert where.stdout.strip().startswith(str(venv)), where.stdout
    run = tmp_path / "run"
    rec = _run(
        [str(venv / "bin" / "revati"), "record", "--out", str(run), "--", str(vpy), "-c",
         "import ctypes; assert ctypes.CDLL('libcuda.so.1').cuInit(0) == 0"],
        env=env,
        cwd=tmp_path,
    )  # fmt: skip
    assert (run / "manifest.json").is_file(), rec.stderr
    assert not (src / "revati" / "native" / "lib").exists(), "a wheel build wrote into the tree"
