"""Readers for recorded exchange messages (formats of ../shared/data/README.md).

Two formats are read, plain or gzip-compressed (detected from the magic bytes, not the name):
  * hftbacktest collector lines: `<local ns> <raw message>`; a REST depth snapshot is a line whose
    message has `lastUpdateId`;
  * cryptofeed JSON-Lines captures: `{"ts": s, "type": "ws"|"rest"|"ws_open"|"ws_send",
    "conn": label, "src": url, "msg": <raw payload spliced in verbatim>}`.

Each yields CaptureRecord with the payload as the exchange's raw bytes, so that the normalizers
parse exactly what came off the wire.
"""
from __future__ import annotations

import gzip
import heapq
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

WS = "ws"
REST = "rest"
OPEN = "ws_open"
SEND = "ws_send"


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    ts_ns: int          # local receive time
    kind: str           # WS, REST, OPEN or SEND
    conn: str           # connection label ("ws" for single-connection captures)
    payload: bytes      # raw message bytes (b"" for OPEN)
    src: str = ""       # URL where the capture names one
    line: int = 0       # 1-based line number in the file, for error reports


class CaptureError(ValueError):
    """A capture line that cannot be read, with the file and line."""


def _open(path: Path):
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def read_capture(path: str | Path,
                 on_error: Callable[[CaptureError], None] | None = None
                 ) -> Iterator[CaptureRecord]:
    """Yield the records of one capture file, in file order.

    A line that cannot be read raises CaptureError (naming file and line), which ends the
    iteration; with `on_error` it is handed to that callback instead and reading goes on, which
    is what a replay of a long recording with one damaged line wants."""
    path = Path(path)
    with _open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line:
                continue
            try:
                if line[:1] == b"{":
                    rec = _jsonl_record(line, path, lineno)
                else:
                    rec = _hbt_record(line, path, lineno)
            except CaptureError as e:
                if on_error is None:
                    raise
                on_error(e)
                continue
            yield rec


def _hbt_record(line: bytes, path: Path, lineno: int) -> CaptureRecord:
    ts, sep, msg = line.partition(b" ")
    if not sep or not ts.isdigit():
        raise CaptureError(f"{path}:{lineno}: expected '<ns> <message>', got {line[:60]!r}")
    kind = REST if b'"lastUpdateId"' in msg[:40] else WS
    return CaptureRecord(int(ts), kind, "ws", msg, "", lineno)


def _jsonl_record(line: bytes, path: Path, lineno: int) -> CaptureRecord:
    # The payload is spliced in verbatim after `"msg":` and is the last key of the wrapper, so
    # the raw bytes are cut out instead of re-encoded (re-encoding would change number text).
    head, sep, msg = line.partition(b',"msg":')
    if not sep or not line.endswith(b"}"):
        raise CaptureError(f"{path}:{lineno}: not a capture JSON line: {line[:60]!r}")
    msg = msg[:-1]
    import orjson

    try:
        meta = orjson.loads(head + b"}")
    except orjson.JSONDecodeError as e:
        raise CaptureError(f"{path}:{lineno}: bad capture header: {e}") from None
    ts = meta.get("ts")
    kind = meta.get("type")
    if not isinstance(ts, (int, float)) or kind not in (WS, REST, OPEN, SEND):
        raise CaptureError(f"{path}:{lineno}: capture header needs ts and type, got {meta}")
    payload = b"" if msg == b"null" else msg
    return CaptureRecord(round(ts * 1e9), kind, str(meta.get("conn", "ws")), payload,
                         str(meta.get("src") or ""), lineno)


def merge_captures(files: Mapping[str, str | Path],
                   on_error: Callable[[CaptureError], None] | None = None
                   ) -> Iterator[tuple[str, CaptureRecord]]:
    """The records of several capture files (one per label, e.g. a venue) as one stream in
    local receive time order: what one process listening to all of them at once would have
    seen. Ties keep the order of `files`. Each file is read lazily, so memory stays flat."""
    def labelled(label: str, path: str | Path
                 ) -> Iterator[tuple[int, int, int, str, CaptureRecord]]:
        for n, rec in enumerate(read_capture(path, on_error)):
            yield rec.ts_ns, order[label], n, label, rec

    order = {label: i for i, label in enumerate(files)}
    for _, _, _, label, rec in heapq.merge(*(labelled(k, p) for k, p in files.items())):
        yield label, rec
