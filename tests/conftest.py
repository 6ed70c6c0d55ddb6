"""Fixtures shared by every test folder: the CLI (in process and as a command), the built native
libraries, and a synthetic serving run."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from revati.cli import main
from revati.native import build as native_build
from revati.trace.synthetic import make_serving_run

CliResult = tuple[int, str, str]
Graph = dict[str, set[str]]


def _find_cycle(graph: Graph) -> list[str] | None:
    """A dependency cycle as a path [a, b, ..., a], or None (edges to nodes outside the graph are
    ignored)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(u: str) -> list[str] | None:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u] & graph.keys()):
            if state.get(v) == 1:
                return stack[stack.index(v) :] + [v]
            if v not in state and (found := visit(v)):
                return found
        stack.pop()
        state[u] = 2
        return None

    for u in sorted(graph):
        if u not in state and (found := visit(u)):
            return found
    return None


# Tests marked realtime measure real durations on the host (CPU time, sleeps, wake-ups) and CI's
# host is shared: a busy neighbour can stretch one reading past its bound. Such a test is run again,
# up to twice, and fails only if all three runs fail; pytest's summary counts the reruns ("R"), so
# a test that needed one stays visible. A defect in revati fails every run.
REALTIME_RERUNS = 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("realtime") and not item.get_closest_marker("flaky"):
            item.add_marker(pytest.mark.flaky(reruns=REALTIME_RERUNS, reruns_delay=1))


@pytest.fixture(scope="session")
def find_cycle() -> Callable[[Graph], list[str] | None]:
    """The layering tests' cycle finder (native units and Python imports alike)."""
    return _find_cycle


@pytest.fixture
def fake_modules(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, dict[str, object]]], None]:
    """fake_modules({dotted name: attributes}) puts stand-in modules of an engine (vLLM, SGLang) in
    sys.modules, parents included, for the engine plugins' tests; undone after the test."""
    import types

    def put(modules: dict[str, dict[str, object]]) -> None:
        for name, attrs in modules.items():
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                sub = ".".join(parts[:i])
                if sub not in sys.modules or not getattr(sys.modules[sub], "_fake", False):
                    mod = types.ModuleType(sub)
                    mod._fake = True  # type: ignore[attr-defined]
                    monkeypatch.setitem(sys.modules, sub, mod)
            for k, v in attrs.items():
                setattr(sys.modules[name], k, v)

    return put


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """cli(*argv) runs `revati ARGV` in this process: (exit code, stdout, stderr)."""

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        with pytest.raises(SystemExit) as e:
            main(list(argv))
            raise SystemExit(0)
        out = capsys.readouterr()
        return int(e.value.code or 0), out.out, out.err

    return run


@pytest.fixture
def revati() -> Callable[..., subprocess.CompletedProcess[str]]:
    """revati(*args, timeout=120) runs `python -m revati ARGS` as a command (text output)."""

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "revati", *args], capture_output=True, text=True, timeout=timeout
        )

    return run


@pytest.fixture(scope="session")
def load_tool() -> Callable[[str], ModuleType]:
    """load_tool("device_transfer") imports tools/device_transfer.py (tools/ is not a package)."""

    def load(name: str) -> ModuleType:
        path = Path(__file__).resolve().parents[1] / "tools" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader, path
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    return load


@pytest.fixture(scope="session")
def lib_dir() -> Path:
    """The built native libraries (built once per session if stale)."""
    return native_build.lib_dir()


@pytest.fixture(scope="session")
def serving_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic two-rank serving run (3 requests, 2 layers). Shared: read it, never write in it
    (load it with cache=False)."""
    d = tmp_path_factory.mktemp("serving") / "run"
    make_serving_run(d, ranks=2, requests=3, layers=2)
    return d
