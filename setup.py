"""Build hook: compile revati's native libraries as part of `pip install .` / `pip install -e .`."""

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def _compile_native(out_dir: Path) -> None:
    # load revati/native/build.py by path: the package is not importable yet at build time
    spec = importlib.util.spec_from_file_location(
        "revati_native_build", Path(__file__).parent / "revati" / "native" / "build.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.build(out_dir, force=False, verbose=False)


class BuildPyWithNative(build_py):
    def run(self):
        super().run()
        # in-tree (editable installs and `python -m revati`) and into the build tree (wheels)
        _compile_native(Path(__file__).parent / "revati" / "native" / "lib")
        if not self.editable_mode:
            _compile_native(Path(self.build_lib) / "revati" / "native" / "lib")


setup(cmdclass={"build_py": BuildPyWithNative})
