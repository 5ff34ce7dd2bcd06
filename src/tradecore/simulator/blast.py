"""Blast mode: a Binance depth stream pre-encoded as one buffer of WebSocket frames.

Why: the replay's send path costs a few microseconds of Python per message (the loop, the
per-step bookkeeping, picows's send), so a one-process simulator cannot send a depth stream
faster than ~50-200k msgs/s, and a throughput benchmark of the client then measures the sender.
A blast is built before it is sent (untimed) and written to the transport in large chunks: no
per-message Python at all while it is sent, so its ceiling is the loopback socket's.

What a blast holds, for one symbol's recorded diff depth stream (frames f_0 .. f_{m-1}, its ids
chaining: spot U_i = u_{i-1} + 1, USD-M pu_i = u_{i-1}):

  * the recorded depth frames not yet replayed (from the replay position on), byte for byte the
    frames the normal path sends (the combined-stream wrapper `{"stream":...,"data":...}`);
  * then `repeat` copies of the whole recorded depth stream f_0 .. f_{m-1}, copy k (1-based) with
    every U, u and pu raised by k * span, span = u_{m-1} - prev(f_0), where prev(f_0) is f_0's pu
    (USD-M) or U_0 - 1 (spot). So copy 1 starts exactly where the recording ends (its first
    pu = u_{m-1}, or U = u_{m-1} + 1) and every copy chains on the one before: a client sees one
    unbroken update-id chain. Nothing else in a frame changes (E, T, prices, sizes are the
    recorded text), and each id keeps its number of digits (checked; a repeat that would carry
    an id into one more digit is refused), so a frame of a copy has the recorded frame's length
    and header.

What the repetition does to a book: a diff sets absolute quantities at prices, so re-applying
the recording's diffs is valid input for a book; after each complete copy every level the
recording touches holds the value of its last diff again. That is the book at the end of the
recording except for levels set only by diffs older than the client's snapshot (the copies start
at the first recorded diff, so those are applied now; the spot sample has none, the USD-M one
one bid level) and for levels a book trims. In the middle of a copy the book mixes the start of
the recording (re-applied) with the end (not yet overwritten), as any book does that replays a
stream. The reference for a client's book is therefore the same frames replayed through a fresh
normalizer (`payloads()` gives them).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tradecore.simulator.venues import ws_frame

CHUNK = 256 << 10                # bytes per transport write
_IDS = re.compile(rb'"(U|u|pu)":(\d+)')


class BlastError(ValueError):
    """A blast that cannot be built (no depth stream, ids out of range, bad repeat)."""


@dataclass
class Blast:
    """A pre-encoded stream: `data` holds `frames` complete server frames back to back."""
    data: memoryview             # bytes-like (a view of the buffer, not copied again)
    frames: int                  # frames in data
    rest: int                    # of which recorded frames not yet replayed (before the copies)
    repeat: int                  # whole copies of the recorded depth stream after them
    per_copy: int                # depth frames in one copy
    span: int                    # id shift of one copy
    first_id: int                # prev-id of the first frame (what the client's book must be at)
    last_id: int                 # u of the last frame

    def describe(self) -> dict:
        return {"frames": self.frames, "bytes": len(self.data), "rest": self.rest,
                "repeat": self.repeat, "per_copy": self.per_copy, "span": self.span,
                "first_id": self.first_id, "last_id": self.last_id}


def _id_fields(payload: bytes) -> list[tuple[bytes, int, int, int]]:
    """(name, digits start, digits end, value) of U, u, pu in a diff, looked for in the
    header only (before the levels), so a quoted level can never be mistaken for one."""
    head_end = payload.find(b'"b":')
    head = payload if head_end < 0 else payload[:head_end]
    return [(m.group(1), m.start(2), m.end(2), int(m.group(2))) for m in _IDS.finditer(head)]


def chain_span(payloads: Sequence[bytes]) -> int:
    """span = u_last - prev(first): the id shift that makes a copy chain on the one before."""
    first = {n: v for n, _, _, v in _id_fields(payloads[0])}
    last = {n: v for n, _, _, v in _id_fields(payloads[-1])}
    if b"u" not in last or b"U" not in first:
        raise BlastError("the first and last depth diffs must carry U and u "
                         f"(got {sorted(first)} and {sorted(last)})")
    prev = first[b"pu"] if b"pu" in first else first[b"U"] - 1
    span = last[b"u"] - prev
    if span <= 0:
        raise BlastError(f"the depth stream's ids do not increase (first prev id {prev}, "
                         f"last u {last[b'u']})")
    return span


def build(recorded: Sequence[bytes], start: int, repeat: int) -> Blast:
    """The blast for one depth stream: recorded[start:] as they are, then `repeat` id-shifted
    copies of recorded[0:] (recorded: the depth payloads of the recording, in order)."""
    if not recorded:
        raise BlastError("no recorded depth diffs to blast")
    if not 0 <= start <= len(recorded):
        raise BlastError(f"start {start}: expected 0..{len(recorded)}")
    if not isinstance(repeat, int) or repeat < 0:
        raise BlastError(f"repeat {repeat!r}: expected an integer >= 0")
    span = chain_span(recorded)
    frames = [ws_frame(p) for p in recorded]
    head = b"".join(frames[start:])
    template = b"".join(frames)
    # where each id's digits sit in the template, grouped by their number of digits
    groups: dict[int, tuple[list[int], list[int]]] = {}
    off = 0
    for p, f in zip(recorded, frames):
        base = off + len(f) - len(p)               # the payload starts after the frame header
        for _, a, b, v in _id_fields(p):
            pos, vals = groups.setdefault(b - a, ([], []))
            pos.append(base + a)
            vals.append(v)
        off += len(f)
    body = np.frombuffer(template, dtype=np.uint8)
    out = np.empty(len(head) + repeat * len(template), dtype=np.uint8)
    out[:len(head)] = np.frombuffer(head, dtype=np.uint8)
    if repeat:
        copies = out[len(head):].reshape(repeat, len(template))
        copies[:] = body
        shift = span * np.arange(1, repeat + 1, dtype=np.int64)[:, None]
        for width, (pos, vals) in groups.items():
            v = np.asarray(vals, dtype=np.int64)[None, :] + shift
            if width > 18 or v.max() >= 10 ** width or v.min() < 10 ** (width - 1):
                raise BlastError(f"repeat {repeat}: an id of {width} digits would change its "
                                 f"number of digits (max {int(v.max())}); use fewer copies")
            cols = np.asarray(pos, dtype=np.int64)
            for d in range(width):
                copies[:, cols + d] = (v // 10 ** (width - 1 - d)) % 10 + 48
    last = _id_fields(recorded[-1])
    last_u = next(v for n, _, _, v in last if n == b"u") + repeat * span
    if start < len(recorded):
        f = {n: v for n, _, _, v in _id_fields(recorded[start])}
        first_id = f[b"pu"] if b"pu" in f else f[b"U"] - 1
    else:
        first_id = next(v for n, _, _, v in last if n == b"u")
    return Blast(memoryview(out), len(recorded) - start + repeat * len(recorded),
                 len(recorded) - start, repeat, len(recorded), span, first_id, last_u)


def payloads(recorded: Sequence[bytes], start: int, repeat: int) -> list[bytes]:
    """The payloads of build(recorded, start, repeat), made one by one (plain Python): the
    reference the tests compare the blast with and a client's final book is checked against."""
    span = chain_span(recorded) if recorded else 0
    out = list(recorded[start:])
    for k in range(1, repeat + 1):
        def shifted(m: re.Match, k: int = k) -> bytes:
            return b'"%s":%d' % (m.group(1), int(m.group(2)) + k * span)
        for p in recorded:
            cut = p.find(b'"b":')
            cut = len(p) if cut < 0 else cut
            out.append(_IDS.sub(shifted, p[:cut]) + p[cut:])
    return out


def split_frames(data) -> list[bytes]:
    """The payloads of a run of unmasked server frames (the inverse of ws_frame, for tests)."""
    out, i, n = [], 0, len(data)
    while i < n:
        b0, b1 = data[i], data[i + 1]
        if b0 != 0x81 or b1 & 0x80:
            raise BlastError(f"offset {i}: expected an unmasked final text frame, got "
                             f"{b0:#04x} {b1:#04x}")
        ln, i = b1 & 0x7F, i + 2
        if ln == 126:
            ln, i = int.from_bytes(data[i:i + 2], "big"), i + 2
        elif ln == 127:
            ln, i = int.from_bytes(data[i:i + 8], "big"), i + 8
        out.append(bytes(data[i:i + ln]))
        i += ln
    return out
