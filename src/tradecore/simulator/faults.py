"""Faults the simulator injects on request, and the log of what each one did.

A fault is asked for with `ExchangeSimulator.inject(Fault(...))` or, from another process, with
`POST /_sim/fault` and the same fields as JSON. Every injected fault gets a FaultRecord in
`sim.fault_log`; as the fault takes effect the record collects one `effects` entry per thing it
did (which depth update was skipped, which connection was dropped, which REST request got a 429),
so a test can check that every gap the simulator made was seen by the client.

Kinds (fields that matter in brackets):
  drop        close the TCP connection without a close frame                      [venue, conn]
  stall       send nothing for `seconds`; the TCP connection stays open. `answer_pings`: still
              answer WebSocket and application pings meanwhile. `then`: what happens to the
              frames the stall held back: "resume" (delivered late, in one burst: no gap),
              "discard" (lost: a gap) or "drop" (the connection is closed without a close
              frame when the stall ends)                                             [seconds]
  duplicate   the next `count` depth updates are sent twice                           [count]
  reorder     each of the next `count` depth updates is held back and sent after the one
              that follows it                                                         [count]
  skip        the next `count` depth updates are not sent (the exchange's book moves on)
  malformed   `variant`: garbage (non-JSON text), binary (random bytes in a binary frame),
              truncated (the first half of a real depth update), schema (valid JSON, wrong
              types), oversized (one text frame of `size` bytes). Sent `count` times as extra
              frames now; with `replace` the next `count` depth updates are replaced by their
              truncated / schema-broken form instead (a gap follows)
  rest_429    the next `count` REST requests get 429 with Retry-After: `retry_after` seconds
  rest_418    the same with 418 (Binance's IP ban)
  shutdown    the exchange's "going away": Binance's serverShutdown event (Kraken: systemStatus
              maintenance), then after `seconds` a close frame (1001) and the disconnect,
              as at Binance's 24-hour mark

`venue` limits a fault to one venue, `conn` to one connection id (sim.connections()),
`symbol` a depth fault to one symbol. Connection faults apply to the connections open when they
are injected; when there are none, to the next connection of that venue that subscribes.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, fields

KINDS = ("drop", "stall", "duplicate", "reorder", "skip", "malformed", "rest_429", "rest_418",
         "shutdown")
DEPTH_KINDS = frozenset({"duplicate", "reorder", "skip"})
REST_KINDS = frozenset({"rest_429", "rest_418"})
MALFORMED_VARIANTS = ("garbage", "binary", "truncated", "schema", "oversized")
STALL_THEN = ("resume", "discard", "drop")


class FaultError(ValueError):
    """A fault request that cannot be carried out, naming the field, the value and what was
    expected."""


@dataclass
class Fault:
    kind: str
    venue: str | None = None        # None: every venue
    conn: int | None = None         # one connection id; None: every connection of the venue
    symbol: str | None = None       # depth faults: only this symbol's updates
    count: int = 1
    seconds: float = 1.0
    variant: str = "garbage"
    replace: bool = False
    size: int = 11 * 1024 * 1024    # oversized: above picows' default 10 MiB max_frame_size
    answer_pings: bool = True
    then: str = "resume"
    retry_after: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultError(f"fault kind {self.kind!r}: expected one of {', '.join(KINDS)}")
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 1:
            raise FaultError(f"fault count {self.count!r}: expected an integer >= 1")
        if not isinstance(self.seconds, (int, float)) or not 0 <= self.seconds <= 3600:
            raise FaultError(f"fault seconds {self.seconds!r}: expected a number in 0..3600")
        if self.kind == "malformed" and self.variant not in MALFORMED_VARIANTS:
            raise FaultError(f"malformed variant {self.variant!r}: expected one of "
                             f"{', '.join(MALFORMED_VARIANTS)}")
        if self.replace and self.variant not in ("truncated", "schema"):
            raise FaultError(f"replace=True needs variant truncated or schema, not "
                             f"{self.variant!r}")
        if self.then not in STALL_THEN:
            raise FaultError(f"stall then {self.then!r}: expected one of {', '.join(STALL_THEN)}")
        if not isinstance(self.size, int) or not 1 <= self.size <= 256 * 1024 * 1024:
            raise FaultError(f"oversized size {self.size!r}: expected 1..268435456 bytes")
        if not isinstance(self.retry_after, int) or self.retry_after < 0:
            raise FaultError(f"retry_after {self.retry_after!r}: expected an integer >= 0")

    @classmethod
    def from_dict(cls, d: object) -> "Fault":
        """A Fault from JSON; unknown keys and wrong types are a FaultError naming them."""
        if not isinstance(d, dict):
            raise FaultError(f"a fault is a JSON object, got {type(d).__name__}")
        names = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise FaultError(f"unknown fault field(s) {unknown}; expected {sorted(names)}")
        if "kind" not in d:
            raise FaultError("a fault needs 'kind'")
        for k, v in d.items():
            want = {"count": int, "conn": int, "size": int, "retry_after": int,
                    "seconds": (int, float), "replace": bool, "answer_pings": bool}.get(k, str)
            if v is not None and (not isinstance(v, want) or (want is int and
                                                              isinstance(v, bool))):
                expected = getattr(want, "__name__", "a number")
                raise FaultError(f"fault field {k}={v!r}: expected {expected}")
        return cls(**d)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class FaultRecord:
    """One injected fault and everything it did."""
    id: int
    fault: Fault
    injected_at: float = field(default_factory=time.time)
    targets: list[int] = field(default_factory=list)   # connection ids it was applied to
    effects: list[dict] = field(default_factory=list)
    done: bool = False

    def effect(self, **what) -> None:
        what.setdefault("t", time.time())
        self.effects.append(what)

    def as_dict(self) -> dict:
        return {"id": self.id, "fault": self.fault.as_dict(), "injected_at": self.injected_at,
                "targets": list(self.targets), "effects": list(self.effects), "done": self.done}


class DepthFault:
    """Per-connection state of a duplicate / reorder / skip / replace fault: consumes the next
    `remaining` depth updates of the connection (of `symbol` when set)."""
    __slots__ = ("kind", "remaining", "symbol", "record", "held", "variant")

    def __init__(self, kind: str, count: int, symbol: str | None, record: FaultRecord,
                 variant: str = "") -> None:
        self.kind = kind            # duplicate, reorder, skip or replace
        self.remaining = count
        self.symbol = symbol
        self.record = record
        self.held = None            # reorder: the update waiting for the next one
        self.variant = variant      # replace: truncated or schema


# -- malformed payloads --------------------------------------------------------------------------
def garbage_bytes(n: int = 48) -> bytes:
    """Printable text that is not JSON (valid UTF-8, so it reaches the parser, not the
    WebSocket library's text check)."""
    alphabet = b"#@!%&*~^abcdefXYZ0123 \\|<>{"
    raw = os.urandom(n)
    return b"\x7f" + bytes(alphabet[b % len(alphabet)] for b in raw)


def binary_bytes(n: int = 48) -> bytes:
    """Random bytes including invalid UTF-8, for a binary frame."""
    return b"\xff\xfe\x00" + os.urandom(n)


def truncated(payload: bytes) -> bytes:
    """The first half of a real message: what a cut-off frame looks like to a parser."""
    return payload[: max(1, len(payload) // 2)]


def oversized(size: int) -> bytes:
    """One valid JSON object of `size` bytes."""
    head, tail = b'{"oversized":"', b'"}'
    return head + b"x" * max(0, size - len(head) - len(tail)) + tail
