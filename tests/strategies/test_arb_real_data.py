"""The detectors on real recorded books: Binance spot and USD-M BTCUSDT, the same 6 minutes.

After every change of either book (replayed through the real normalizers in receive-time
order) the compiled cross-venue detector and the brute-force reference must agree exactly on
whether there is an opportunity, its direction, size and edge. Spot traded ~26 USDT above the
perpetual in this window, so without fees every change shows an opportunity (buy the perp, sell
spot) and with real taker fees (0.1 % spot, 0.05 % USD-M) none survives.
"""
from __future__ import annotations

import pytest

from datafiles import shared_file
from tradecore._fast.arb import CrossVenueDetector
from tradecore.data.capture import REST, WS, merge_captures
from tradecore.strategies.arb.reference import cross_best
from tradecore.verify import normalizer_for

pytestmark = pytest.mark.shared_data


def replay_checks(fees: list[float], max_changes: int) -> tuple[int, int]:
    files = {"spot": shared_file("binance/hbt_spot_btcusdt_20240808.gz"),
             "usdm": shared_file("binance/hbt_usdm_btcusdt_20240808.gz")}
    idx = {"spot": 0, "usdm": 1}
    det = CrossVenueDetector(2)
    det.max_qty = 5.0
    books: list = [None, None]
    lots = [0.00001, 0.001]
    seen = found = 0

    def on_book(venue: str):
        def cb(key, book) -> None:
            nonlocal seen, found
            i = idx[venue]
            if books[i] is not book:
                books[i] = book
                det.set_venue(i, book, fees[i], lots[i])
            if None in books or seen >= max_changes:
                return
            seen += 1
            got = det.check(i)
            ref = cross_best([tuple([tuple(r) for r in side.tolist()] for side in b.depth(20))
                              for b in books], fees, lots, max_qty=5.0, only=i)
            assert got == (ref is not None), f"change {seen}"
            if got:
                found += 1
                assert (det.buy_venue, det.sell_venue) == (ref.buy_venue, ref.sell_venue)
                assert det.qty == pytest.approx(ref.qty, rel=1e-9)
                assert det.edge == pytest.approx(ref.edge, rel=1e-9)
        return cb

    norms = {v: normalizer_for("binance") for v in files}
    for v, n in norms.items():
        n.on_book = on_book(v)
    for v, rec in merge_captures(files):
        if seen >= max_changes:
            break
        if rec.kind == WS:
            norms[v].on_frame(rec.payload, rec.conn, rec.ts_ns)
        elif rec.kind == REST:
            norms[v].on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
    return seen, found


def test_cross_venue_matches_reference_on_every_change_when_fees_are_zero():
    seen, found = replay_checks([0.0, 0.0], 4000)
    assert seen == 4000
    assert found > 3000          # the spot premium shows on (almost) every change


def test_cross_venue_finds_nothing_when_real_taker_fees_apply():
    seen, found = replay_checks([0.001, 0.0005], 2000)
    assert seen == 2000 and found == 0
