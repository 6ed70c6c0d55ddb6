"""Build hook: compile revati's native libraries as part of `pip install .` / `pip install -e .`."""

import importlib.util
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _native_build_module():
    # load revati/native/build.py by path (the package is not importable yet at build time); it
    # must sit in sys.modules while it runs, or @dataclass cannot resolve its module
    name = "revati_native_build"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "revati" / "native" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod


class BuildPyWithNative(build_py):
    def run(self):
        super().run()
        mod = _native_build_module()
        if self.editable_mode:
            # editable installs run from the source tree: the libraries live there
            mod.build(HERE / "revati" / "native" / "lib")
        else:
            # wheels (and installs from an sdist) get freshly built libraries in the build tree
            # only, marked as installed so that an installed copy never tries to rebuild itself
            mod.build(
                Path(self.build_lib) / "revati" / "native" / "lib", force=True, installed=True
            )


class PlatformWheel(bdist_wheel):
    """The wheel carries Linux shared libraries (no Python extension): py3-none-<platform>."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(cmdclass={"build_py": BuildPyWithNative, "bdist_wheel": PlatformWheel})
