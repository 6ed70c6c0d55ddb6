"""`revati calibrate`: the --host-speed factor between this host's CPU and a recorded reference host.

Method: a fixed CPU-bound workload in two parts, pure Python (dicts, strings, sorting, calls) and
small torch CPU operators on one thread (the eager dispatch path that makes serving steps host-bound),
is timed several times here; the fastest run of each part is compared with the figure recorded on the
reference host (`revati/devices/host_reference.toml`, written by `--save-reference` there). The
factor is reference time over this host's time: a slower host gets a factor below 1, and
`revati record --host-speed F` then scales the measured CPU time by F. docs/host-time.md gives the
limits (one number for all code; caches, turbo and noisy neighbours; single-thread only).

The workload needs only the standard library and, optionally, torch, so that it can run on a host
without revati: `python revati/cli/calibrate.py --measure [REPEAT]` prints its figures as JSON.
"""

from __future__ import annotations

import datetime
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

WORKLOAD_VERSION = 1
DEFAULT_REFERENCE = Path(__file__).resolve().parents[1] / "devices" / "host_reference.toml"


def python_workload() -> int:
    """Interpreter-bound work: dict updates, int/str conversions, a keyed sort, small calls."""
    d: dict[int, int] = {}
    s = 0
    for i in range(200_000):
        k = i % 1000
        d[k] = d.get(k, 0) + i
        s += len(str(i))
    order = sorted(range(100_000), key=lambda x: (x * 7919) % 100_003)
    return s + order[0] + len(d)


def torch_workload(torch: Any) -> float:
    """Eager-dispatch-bound work: 3,000 small CPU operator chains on one thread."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 64, generator=g)
    w = torch.randn(64, 64, generator=g)
    acc = 0.0
    for _ in range(3_000):
        y = torch.nn.functional.linear(x, w)
        y = y.relu_()
        y = y + x
        acc += float(y.view(-1)[:128].sum())
    return acc


def _best(fn: Any, repeat: int) -> tuple[int, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    best = min(times)
    return best, (sorted(times)[len(times) // 2] - best) / best


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure(repeat: int = 5, with_torch: bool = True) -> dict[str, Any]:
    """Time the workload on this host: the fastest of `repeat` runs of each part, in ns."""
    python_workload()  # warm-up
    py_ns, py_spread = _best(python_workload, repeat)
    out: dict[str, Any] = {
        "workload_version": WORKLOAD_VERSION,
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "python_ns": py_ns,
        "python_spread": round(py_spread, 4),
    }
    if not with_torch:
        return out
    try:
        import torch
    except ImportError:
        return out
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch_workload(torch)  # warm-up
        t_ns, t_spread = _best(lambda: torch_workload(torch), repeat)
    finally:
        torch.set_num_threads(threads)
    out.update(
        {
            "torch": torch.__version__.split("+")[0],
            "torch_ns": t_ns,
            "torch_spread": round(t_spread, 4),
        }
    )
    return out


if __name__ == "__main__" and "--measure" in sys.argv:
    # standalone measurement on a host without revati (no click, no revati imports below this line)
    rest = [a for a in sys.argv[1:] if a not in ("--measure", "--no-torch")]
    print(json.dumps(measure(int(rest[0]) if rest else 5, "--no-torch" not in sys.argv)))
    sys.exit(0)

import tomllib  # noqa: E402

import click  # noqa: E402

from revati.errors import RevatiError  # noqa: E402

PARTS = ("python", "torch")


def load_reference(path: Path) -> dict[str, Any]:
    """The recorded reference host: its name, CPU, versions and per-part times (ns)."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise RevatiError(
            f"reference file {path} does not exist; record one with --save-reference"
        ) from None
    except (tomllib.TOMLDecodeError, OSError) as e:
        raise RevatiError(f"reference file {path} cannot be read: {e}") from None
    ref = data.get("reference")
    if (
        not isinstance(ref, dict)
        or not isinstance(ref.get("python_ns"), int)
        or ref["python_ns"] <= 0
    ):
        raise RevatiError(
            f"reference file {path} has no [reference] table with a positive python_ns"
        )
    if ref.get("workload_version") != WORKLOAD_VERSION:
        raise RevatiError(
            f"reference file {path} was recorded with workload version {ref.get('workload_version')}, "
            f"this revati runs version {WORKLOAD_VERSION}; record it again with --save-reference"
        )
    return ref


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string


def save_reference(path: Path, name: str, figures: dict[str, Any]) -> None:
    fields = {
        "name": name,
        "recorded": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    fields.update(figures)
    lines = [
        "# The reference host of `revati calibrate`: the fastest time (ns) of each part of its fixed",
        "# workload there. Written by `revati calibrate --save-reference`; see docs/host-time.md.",
        "[reference]",
    ]
    lines += [f"{k} = {_toml_value(v)}" for k, v in fields.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def factors(here: dict[str, Any], ref: dict[str, Any]) -> dict[str, float]:
    """Reference time over this host's time, per part, and overall (over the parts both have)."""
    out: dict[str, float] = {}
    ref_total = here_total = 0
    for part in PARTS:
        key = f"{part}_ns"
        if isinstance(here.get(key), int) and isinstance(ref.get(key), int) and here[key] > 0:
            out[part] = ref[key] / here[key]
            ref_total += ref[key]
            here_total += here[key]
    out["overall"] = ref_total / here_total
    return out


@click.command()
@click.option(
    "--reference",
    "reference_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_REFERENCE,
    show_default=True,
    help="Reference host file to compare with (or to write with --save-reference).",
)
@click.option(
    "--save-reference",
    "save_name",
    metavar="NAME",
    default=None,
    help="Record this host as the reference, named NAME.",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=2, max=100),
    default=5,
    show_default=True,
    help="Runs of each part.",
)
@click.option("--no-torch", is_flag=True, help="Time the pure-Python part only.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def calibrate(
    reference_path: Path, save_name: str | None, repeat: int, no_torch: bool, as_json: bool
) -> None:
    """Measure this host's CPU against the reference host and print the --host-speed factor."""
    if save_name is not None:
        if not save_name.strip():
            raise click.BadParameter(
                "the reference needs a non-empty name", param_hint="--save-reference"
            )
        here = measure(repeat, with_torch=not no_torch)
        save_reference(reference_path, save_name, here)
        if as_json:
            click.echo(json.dumps({"saved": str(reference_path), "host": here}))
        else:
            click.echo(f"reference '{save_name}' written to {reference_path}")
            click.echo(_describe("this host", here))
        return
    ref = load_reference(reference_path)  # before measuring: a bad file fails at once
    here = measure(repeat, with_torch=not no_torch)
    f = factors(here, ref)
    if as_json:
        click.echo(json.dumps({"host": here, "reference": ref, "host_speed": f}))
        return
    click.echo(_describe("this host", here))
    click.echo(_describe(f"reference '{ref.get('name', '?')}'", ref))
    parts = ", ".join(f"{p} {f[p]:.3f}" for p in PARTS if p in f)
    click.echo(f"host speed: {parts}; overall {f['overall']:.3f}")
    if "torch" in ref and "torch" not in f:
        click.echo(
            "note: only the pure-Python part was compared (--no-torch, or torch is not importable)"
        )
    click.echo(f"use: revati record --host-speed {f['overall']:.3f} -- ...")


def _describe(label: str, fig: dict[str, Any]) -> str:
    parts = []
    for part in PARTS:
        if isinstance(fig.get(f"{part}_ns"), int):
            spread = fig.get(f"{part}_spread")
            extra = f" (median +{100 * spread:.1f}%)" if isinstance(spread, float) else ""
            parts.append(f"{part} {fig[f'{part}_ns'] / 1e6:.1f} ms{extra}")
    versions = f"Python {fig.get('python', '?')}" + (
        f", torch {fig['torch']}" if "torch" in fig else ""
    )
    return f"{label}: {'; '.join(parts)} [{fig.get('cpu', '?')}; {versions}]"
