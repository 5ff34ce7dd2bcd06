"""The feed node's book deltas: applied in order to an empty book they rebuild the publisher's
book exactly, level for level, after every change (real recordings of four venues)."""
from __future__ import annotations

from itertools import islice

import numpy as np
from hypothesis import given, settings, strategies as st

from datafiles import sample_file
from tradecore.bus.codec import decode
from tradecore.bus.feed import BookPublisher, side_diff, side_diff_ref
from tradecore.bus.mirror import APPLIED, BookMirror
from tradecore.core.instrument import Instrument
from tradecore.data.capture import REST, WS, read_capture
from tradecore.verify import normalizer_for
import pytest


@st.composite
def two_sides(draw):
    desc = draw(st.booleans())
    def side():
        t = sorted(draw(st.lists(st.integers(1, 60), max_size=25, unique=True)), reverse=desc)
        q = draw(st.lists(st.integers(1, 4), min_size=len(t), max_size=len(t)))
        return np.array(list(zip(t, q)), dtype=np.int64).reshape(-1, 2)
    return side(), side()


@settings(deadline=None)
@given(two_sides())
def test_side_diff_equals_the_reference_when_levels_come_and_go(sides):
    prev, cur = sides
    d = side_diff(prev, cur)
    assert {int(t): int(q) for t, q in d} == side_diff_ref(prev, cur)
    assert len(d) == len(side_diff_ref(prev, cur))      # no level twice


@pytest.mark.parametrize("exchange, sample, n", [
    ("binance", "hbt_usdm_btcusdt_20240808_nobookticker.gz", 6000),
    ("kraken", "cf_kraken_spot_20210417_5pairs.jsonl", 3000),
    ("okx", "cf_okx_20220227_books-l2-tbt_5inst.jsonl", 3000),
    ("coinbase", "cf_coinbase_pro_20210417_level2_5prod.jsonl.gz", 3000),
])
def test_mirror_equals_the_feed_book_after_every_delta_when_replaying_a_recording(
        exchange, sample, n):
    norm = normalizer_for(exchange)
    pub = BookPublisher(snapshot_every=10**9)
    mirrors: dict = {}
    checked = 0

    def on_book(key, book) -> None:
        nonlocal checked
        sym = key[1]
        pub.on_book(exchange, sym, book)
        m = decode(pub.out[0][1])
        pub.out.clear()
        mirror = mirrors.setdefault(sym, BookMirror(
            {(exchange, sym): Instrument(exchange, sym, "0.01", "0.01", "", "")}))
        assert mirror.apply(m) == APPLIED
        got = mirror.book((exchange, sym))
        for side in (0, 1):
            assert np.array_equal(got.depth_ticks(side, 1 << 30), book.depth_ticks(side, 1 << 30))
        assert (got.valid, got.seq, got.ts_ns) == (book.valid, book.seq, book.ts_ns)
        assert (got.tick_size, got.lot_size) == (book.tick_size, book.lot_size)
        checked += 1

    norm.on_book = on_book
    norm.on_trade = lambda t: None
    for rec in islice(read_capture(sample_file(sample)), n):
        if rec.kind == WS:
            norm.on_frame(rec.payload, rec.conn, rec.ts_ns)
        elif rec.kind == REST:
            norm.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
    assert checked > 100
