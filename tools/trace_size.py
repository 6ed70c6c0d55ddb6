"""A run's trace size: bytes on disk, events and kernels, what the same events take as JSON lines
(each event as its line), and how much of it the compact records' template lines are. Usage:
    python tools/trace_size.py RUN
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from revati.trace import stream_events  # noqa: E402
from revati.trace.files import stream_files  # noqa: E402
from revati.trace.schema import EVENTS_DIR, TEMPLATE_KIND  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not (Path(args[0]) / EVENTS_DIR).is_dir():
        print("error: usage: python tools/trace_size.py RUN (a run directory)", file=sys.stderr)
        return 2
    events_dir = Path(args[0]) / EVENTS_DIR
    disk = sum(p.stat().st_size for p in events_dir.iterdir() if p.is_file())
    as_json = events = kernels = tmpl_lines = tmpl_bytes = 0
    prefix = b'{"k":"%s"' % TEMPLATE_KIND.encode()
    for _, path in stream_files(events_dir):
        for ev in stream_events(path):
            as_json += len(orjson.dumps(ev)) + 1
            events += 1
            kernels += ev["k"] == "kernel"
        for line in path.read_bytes().split(b"\n"):
            if line.startswith(prefix):
                tmpl_lines += 1
                tmpl_bytes += len(line) + 1
    per = f" ({disk / kernels:.1f} bytes per kernel)" if kernels else ""
    print(
        f"{disk} bytes on disk{per} for {events} events, {kernels} kernels; "
        f"{as_json} bytes as JSON lines; templates: {tmpl_lines} lines, {tmpl_bytes} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
