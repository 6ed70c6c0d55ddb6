"""Python trace writer for synthetic runs and tests: in-memory or streaming, one interface.

A `RunWriter` lays out a run directory (events/, device.conf, manifest.json); each process gets a
stream writer whose typed methods are conveniences over `emit`, which takes its field names,
their order and their types from revati/trace/schema.py (an undeclared field or a value of the
wrong type raises), with `seq` and `tid` filled in. `MemoryStream` keeps events in a list (written on close); `FileStream` streams lines to
`proc-<pid>.jsonl.tmp` and renames on close, like the native writer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from revati import __version__
from revati.devices import DEFAULT_PROFILE
from revati.trace.manifest import Manifest, write_manifest
from revati.trace.schema import (
    DEVICE_CONF_FILE,
    EVENT_KINDS,
    EVENTS_DIR,
    STREAM_PREFIX,
    STREAM_SUFFIX,
    STREAM_TMP_SUFFIX,
    check_event,
)

_FLUSH_AT = 1 << 20


class StreamWriter:
    """One process's event stream. Subclasses decide where lines go (`_put`)."""

    def __init__(
        self,
        pid: int,
        rank: int,
        *,
        device: str = DEFAULT_PROFILE,
        num_gpus: int = 1,
        argv: Sequence[str] = ("python",),
        ppid: int = 1,
        ts_ns: int = 0,
        wt_ns: int = 0,
    ) -> None:
        self.pid, self.rank = pid, rank
        self.seq = 0
        self._corr = 0
        self.closed = False
        self.ended = False
        self.emit(
            "proc", pid=pid, ppid=ppid, rank=rank, argv=list(argv), device=device,
            num_gpus=num_gpus, ts_ns=ts_ns, wt_ns=wt_ns,
        )  # fmt: skip

    # -- the one primitive -------------------------------------------------------------------
    def emit(self, k: str, tid: int | None = None, /, **fields: Any) -> dict[str, Any]:
        """Write one event of kind `k`; `seq` is assigned, `tid` defaults to the process id.

        Fields are put in the schema's order; a kind or field the schema does not declare, or a
        value of the wrong type, raises ValueError (required fields are not enforced, so tests
        can write the broken lines the reader must reject).
        """
        if self.closed:
            raise RuntimeError("emit on a closed stream: invariant violated")
        spec = EVENT_KINDS.get(k)
        if spec is None:
            raise ValueError(f"unknown event kind '{k}' (declare it in revati/trace/schema.py)")
        ordered = {f.name: fields.pop(f.name) for f in spec.fields if f.name in fields}
        ev = {"k": k, "seq": self.seq, "tid": self.pid if tid is None else tid, **ordered, **fields}
        problems = [p for p in check_event(ev) if "lacks required" not in p]
        if problems:
            raise ValueError("; ".join(problems))
        self.seq += 1
        self._put(ev)
        return ev

    def _put(self, ev: dict[str, Any]) -> None:
        raise NotImplementedError(self)

    def next_corr(self) -> int:
        """A fresh correlation id (per process, from 1), like rv_next_corr()."""
        self._corr += 1
        return self._corr

    # -- typed helpers (conveniences with defaults; emit checks them against the schema) ----
    def api(
        self,
        name: str,
        ts_ns: int,
        end_ns: int,
        *,
        res: int = 0,
        args: str = "",
        corr: int = 0,
        wt_ns: int | None = None,
        tid: int | None = None,
    ) -> dict[str, Any]:
        return self.emit(
            "api",
            tid,
            name=name,
            res=res,
            args=args,
            ts_ns=ts_ns,
            end_ns=end_ns,
            wt_ns=ts_ns if wt_ns is None else wt_ns,
            corr=corr,
        )

    def kernel(
        self,
        name: str,
        ts_ns: int,
        end_ns: int,
        *,
        dev: int = 0,
        stream: int = 0,
        corr: int = 0,
        grid: Sequence[int] = (1, 1, 1),
        block: Sequence[int] = (1, 1, 1),
        smem: int = 0,
        pred: str = "analytical",
        src: str = "analytical",
        graph: int = 0,
        tid: int | None = None,
    ) -> dict[str, Any]:
        return self.emit(
            "kernel",
            tid,
            name=name,
            grid=list(grid),
            block=list(block),
            smem=smem,
            dev=dev,
            stream=stream,
            corr=corr,
            ts_ns=ts_ns,
            end_ns=end_ns,
            pred=pred,
            src=src,
            graph=graph,
        )

    def memcpy(
        self,
        kind: str,
        nbytes: int,
        ts_ns: int,
        end_ns: int,
        *,
        dev: int = 0,
        stream: int = 0,
        corr: int = 0,
        graph: int = 0,
        tid: int | None = None,
    ) -> dict[str, Any]:
        return self.emit(
            "memcpy",
            tid,
            kind=kind,
            bytes=nbytes,
            dev=dev,
            stream=stream,
            corr=corr,
            ts_ns=ts_ns,
            end_ns=end_ns,
            graph=graph,
        )

    def memset(
        self,
        nbytes: int,
        ts_ns: int,
        end_ns: int,
        *,
        dev: int = 0,
        stream: int = 0,
        corr: int = 0,
        graph: int = 0,
        tid: int | None = None,
    ) -> dict[str, Any]:
        return self.emit(
            "memset",
            tid,
            bytes=nbytes,
            dev=dev,
            stream=stream,
            corr=corr,
            ts_ns=ts_ns,
            end_ns=end_ns,
            graph=graph,
        )

    def sync(
        self,
        why: str,
        from_ns: int,
        to_ns: int,
        *,
        wt_ns: int | None = None,
        tid: int | None = None,
    ) -> dict[str, Any]:
        return self.emit(
            "sync",
            tid,
            why=why,
            ts_ns=from_ns,
            end_ns=to_ns,
            wt_ns=from_ns if wt_ns is None else wt_ns,
        )

    def collective(
        self,
        op: str,
        nbytes: int,
        ts_ns: int,
        end_ns: int,
        *,
        comm: int,
        rank: int,
        nranks: int,
        dtype: str = "bf16",
        peers: Sequence[int] = (),
        dev: int = 0,
        stream: int = 0,
        corr: int = 0,
        tid: int | None = None,
        model_ns: int | None = None,
    ) -> dict[str, Any]:
        extra = {} if model_ns is None else {"model_ns": model_ns}
        return self.emit(
            "collective",
            tid,
            op=op,
            bytes=nbytes,
            dtype=dtype,
            comm=comm,
            rank=rank,
            nranks=nranks,
            peers=list(peers),
            dev=dev,
            stream=stream,
            corr=corr,
            ts_ns=ts_ns,
            end_ns=end_ns,
            **extra,
        )

    def graph(
        self,
        what: str,
        graph: int,
        ts_ns: int,
        end_ns: int,
        *,
        stream: int = 0,
        nodes: int = 0,
        dev: int = 0,
        tid: int | None = None,
    ) -> dict[str, Any]:
        return self.emit(
            "graph",
            tid,
            what=what,
            graph=graph,
            dev=dev,
            stream=stream,
            nodes=nodes,
            ts_ns=ts_ns,
            end_ns=end_ns,
        )

    def marker(
        self,
        name: str,
        ts_ns: int,
        args: dict[str, Any] | None = None,
        *,
        wt_ns: int | None = None,
        tid: int | None = None,
    ) -> dict[str, Any]:
        return self.emit(
            "marker",
            tid,
            name=name,
            ts_ns=ts_ns,
            wt_ns=ts_ns if wt_ns is None else wt_ns,
            args=args or {},
        )

    def end(
        self,
        ts_ns: int,
        *,
        wt_ns: int | None = None,
        overhead_ns: int = 0,
        unimpl: dict[str, int] | None = None,
        missing: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """The last line: final virtual time and the unimplemented / missing-shape counts."""
        ev = self.emit(
            "end",
            None,
            ts_ns=ts_ns,
            wt_ns=ts_ns if wt_ns is None else wt_ns,
            overhead_ns=overhead_ns,
            unimpl=unimpl or {},
            missing=missing or {},
        )
        self.ended = True
        return ev

    def close(self) -> None:
        """Finish the stream (an `end` line must have been written, or use abort())."""
        self.closed = True


class MemoryStream(StreamWriter):
    """Keeps every event in `events`; `lines()` gives the JSON Lines bytes."""

    def __init__(self, pid: int, rank: int, path: Path | None = None, **kw: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self.path = path
        super().__init__(pid, rank, **kw)

    def _put(self, ev: dict[str, Any]) -> None:
        self.events.append(ev)

    def lines(self) -> bytes:
        return b"".join(orjson.dumps(e) + b"\n" for e in self.events)

    def close(self) -> None:
        if self.path is not None and not self.closed:
            self.path.write_bytes(self.lines())
        super().close()

    def abort(self) -> None:
        """Leave the stream as a crashed process would: a `.jsonl.tmp` with no end line."""
        if self.path is not None and not self.closed:
            tmp = self.path.with_name(self.path.name[: -len(STREAM_SUFFIX)] + STREAM_TMP_SUFFIX)
            tmp.write_bytes(self.lines())
        super().close()


class FileStream(StreamWriter):
    """Streams lines to `<path>.tmp` through a buffer and renames to `<path>` on close."""

    def __init__(self, pid: int, rank: int, path: Path, **kw: Any) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name[: -len(STREAM_SUFFIX)] + STREAM_TMP_SUFFIX)
        self._f: IO[bytes] = self.tmp.open("wb")
        self._buf: list[bytes] = []
        self._size = 0
        super().__init__(pid, rank, **kw)

    def _put(self, ev: dict[str, Any]) -> None:
        line = orjson.dumps(ev) + b"\n"
        self._buf.append(line)
        self._size += len(line)
        if self._size >= _FLUSH_AT:
            self._flush()

    def write_raw(self, lines: Iterable[bytes]) -> None:
        """Append already-encoded lines (bulk generators; the caller keeps `seq` consistent)."""
        for line in lines:
            self._buf.append(line)
            self._size += len(line)
        self._flush()

    def _flush(self) -> None:
        self._f.write(b"".join(self._buf))
        self._buf.clear()
        self._size = 0

    def close(self) -> None:
        if self.closed:
            return
        self._flush()
        self._f.close()
        os.replace(self.tmp, self.path)
        super().close()

    def abort(self) -> None:
        """Stop as a crashed process would: the `.jsonl.tmp` stays, no end line, no rename."""
        if self.closed:
            return
        self._flush()
        self._f.close()
        super().close()


class RunWriter:
    """Lays out a run directory; `process()` opens a stream, `finish()` writes the manifest."""

    def __init__(
        self,
        run_dir: Path | str,
        *,
        streaming: bool = True,
        device_conf: dict[str, Any] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        (self.run_dir / EVENTS_DIR).mkdir(parents=True, exist_ok=True)
        self.streaming = streaming
        self.streams: list[StreamWriter] = []
        if device_conf:
            text = "".join(f"{k}={v}\n" for k, v in device_conf.items())
            (self.run_dir / DEVICE_CONF_FILE).write_text(text)

    def stream_path(self, pid: int) -> Path:
        return self.run_dir / EVENTS_DIR / f"{STREAM_PREFIX}{pid}{STREAM_SUFFIX}"

    def process(self, pid: int, rank: int, **kw: Any) -> FileStream | MemoryStream:
        cls = FileStream if self.streaming else MemoryStream
        s = cls(pid, rank, path=self.stream_path(pid), **kw)
        self.streams.append(s)
        return s

    def finish(self, *, manifest: bool = True, **fields: Any) -> Manifest | None:
        """Close open streams and (unless manifest=False) write manifest.json from `fields`."""
        for s in self.streams:
            s.close()
        if not manifest:
            return None
        fields.setdefault("revati_version", __version__)
        fields.setdefault(
            "processes",
            [
                {
                    "pid": s.pid,
                    "rank": s.rank,
                    "file": f"{EVENTS_DIR}/{self.stream_path(s.pid).name}",
                }
                for s in self.streams
            ],
        )
        m = Manifest.from_dict({"schema_version": fields.pop("schema_version", "1.0"), **fields})
        write_manifest(self.run_dir, m)
        return m
