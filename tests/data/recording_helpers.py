"""Recording helpers for the data-store tests: a live run through a normalizer with the
Recorder attached, keeping the book state after every applied batch to compare replays with.
(A module, not conftest.py: test modules import from it.)"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tradecore.data.recorder import Recorder, record_to
from tradecore.verify import normalizer_for, replay

TOP = 25            # levels a side compared after every batch
FULL_EVERY = 50     # every n-th batch of a book is compared at full depth


@dataclass
class Step:
    key: tuple[str, str]
    ts_ns: int
    grid: tuple[int, int, int, int]
    top: tuple[np.ndarray, np.ndarray]
    full: tuple[np.ndarray, np.ndarray] | None
    wire: tuple[int, int] | None = None        # Kraken's checksum decimals
    checksums: list = field(default_factory=list)   # the exchange's checksums of this state


def grid(book) -> tuple[int, int, int, int]:
    return (book.tick_units, book.price_decimals, book.lot_units, book.size_decimals)


def depth(book, n: int) -> tuple[np.ndarray, np.ndarray]:
    return book.depth_ticks(0, n), book.depth_ticks(1, n)


@dataclass
class LiveRun:
    venue: str
    root: Path
    norm: object
    recorder: Recorder
    steps: list[Step]
    seconds: float = 0.0


def record_live(venue: str, files: list[Path], root: Path, **recorder_options) -> LiveRun:
    """Replay capture files through a fresh normalizer with a Recorder wired by record_to,
    keeping the live book after every batch (and the exchange checksums verified on it)."""
    import time

    norm = normalizer_for(venue)
    rec = record_to(root, norm, **recorder_options)
    hook = norm.on_levels
    steps: list[Step] = []
    last_of_key: dict[tuple, int] = {}
    count: dict[tuple, int] = {}

    def spy(key, ts_ns, seq, levels, is_snapshot):
        hook(key, ts_ns, seq, levels, is_snapshot)
        book = norm.books[key]
        n = count[key] = count.get(key, 0) + 1
        full = depth(book, 1 << 40) if n % FULL_EVERY == 1 else None
        wire = norm.wire_decimals(key) if venue == "kraken" else None
        last_of_key[key] = len(steps)
        steps.append(Step(key, ts_ns, grid(book), depth(book, TOP), full, wire))

    norm.on_levels = spy
    if hasattr(norm, "_verify"):
        verify = norm._verify

        def spy_verify(key, book, *args):
            # the checksum of a message is verified right after its levels were applied; a
            # message without levels checks the book as its last batch left it
            steps[last_of_key[key]].checksums.append(args[-1])
            return verify(key, book, *args)
        norm._verify = spy_verify
    t0 = time.perf_counter()
    replay(norm, files)
    rec.close()
    return LiveRun(venue, root, norm, rec, steps, time.perf_counter() - t0)
