"""NautilusTrader's backtest over the same L2 deltas and trades (the same-run reference of
bench_backtest.py). Runs in a separate virtualenv that has `nautilus_trader` (never in the
project's): bench_backtest.py --nautilus-python PATH exports the compiled event log to an .npz
and runs this script with that interpreter.

    /tmp/ntvenv/bin/python benchmarks/external/nautilus_backtest.py EVENTS.npz [--rounds N]

What Nautilus runs: BacktestEngine with both Binance books (spot BTCUSDT, USD-M BTCUSDT-PERP) as
L2_MBP order books managed by its DataEngine (deltas buffered to each message's F_LAST, as our
replay applies a message as one batch), the trades as TradeTicks, and one Python strategy that
on every book update reads both tops and checks the cross-venue edge after taker fees (what our
cross-exchange detector tests first). Snapshot messages become CLEAR + ADDs, diffs UPDATE (size
> 0) or DELETE. Timestamps: the receive times, made non-decreasing (Nautilus sorts its data;
Binance diffs buffered before their REST snapshot carry earlier times). Instruments: Nautilus's
test-kit Binance instruments with the recordings' price and size precisions. Building the data
objects is not timed; `engine.run()` is, with the strategy and without any (the venue's own
L2 books only: Nautilus's floor here). Output: one JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import DataEngineConfig, LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import BTC, USDT
from nautilus_trader.model.data import BookOrder, OrderBookDelta, TradeTick
from nautilus_trader.model.enums import (AccountType, AggressorSide, BookAction, BookType,
                                         OmsType, OrderSide, RecordFlag)
from nautilus_trader.model.identifiers import TradeId, Venue
from nautilus_trader.model.instruments import CryptoPerpetual, CurrencyPair
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy

F_LAST = int(RecordFlag.F_LAST)


def instrument(kind, base, price_prec: int, size_prec: int):
    d = type(base).to_dict(base)
    d["price_precision"] = price_prec
    d["price_increment"] = f"{10.0 ** -price_prec:.{price_prec}f}"
    d["size_precision"] = size_prec
    d["size_increment"] = f"{10.0 ** -size_prec:.{size_prec}f}"
    return kind.from_dict(d)


def decimals(text: str) -> int:
    return len(text.split(".")[1].rstrip("0")) if "." in text else 0


class CrossCheckConfig(StrategyConfig, frozen=True):
    a: str
    b: str
    fee_a: float
    fee_b: float


class CrossCheck(Strategy):
    """On every book update: both tops, the edge after taker fees both ways."""

    def __init__(self, config: CrossCheckConfig) -> None:
        super().__init__(config)
        self.ids = []
        self.updates = 0
        self.crossed = 0

    def on_start(self) -> None:
        from nautilus_trader.model.identifiers import InstrumentId
        self.ids = [InstrumentId.from_str(self.config.a), InstrumentId.from_str(self.config.b)]
        for i in self.ids:
            self.subscribe_order_book_deltas(i, BookType.L2_MBP, managed=True)

    def on_order_book_deltas(self, deltas) -> None:
        self.updates += 1
        a = self.cache.order_book(self.ids[0])
        b = self.cache.order_book(self.ids[1])
        if a is None or b is None:
            return
        ab, aa, bb, ba = a.best_bid_price(), a.best_ask_price(), b.best_bid_price(), \
            b.best_ask_price()
        if ab is None or aa is None or bb is None or ba is None:
            return
        fa, fb = self.config.fee_a, self.config.fee_b
        if (aa.as_double() * (1 + fa) < bb.as_double() * (1 - fb)
                or ba.as_double() * (1 + fb) < ab.as_double() * (1 - fa)):
            self.crossed += 1


def build(ev, insts):
    ts = np.maximum.accumulate(ev["msg_ts"])
    feed, kind, lo, hi = ev["msg_feed"], ev["msg_kind"], ev["msg_lo"], ev["msg_hi"]
    side, price, size = ev["lv_side"], ev["lv_price"], ev["lv_size"]
    tr_px, tr_sz, tr_ag = ev["tr_price"], ev["tr_size"], ev["tr_aggressor"]
    data = []
    seq = 0
    for i in range(len(ts)):
        inst = insts[int(feed[i])]
        iid, pp, sp = inst.id, inst.price_precision, inst.size_precision
        t = int(ts[i])
        if kind[i] == 2:
            k = int(lo[i])
            ag = AggressorSide.BUYER if tr_ag[k] > 0 else AggressorSide.SELLER
            data.append(TradeTick(iid, Price(float(tr_px[k]), pp), Quantity(float(tr_sz[k]), sp),
                                  ag, TradeId(str(k)), t, t))
            continue
        rows = range(int(lo[i]), int(hi[i]))
        out = []
        if kind[i] == 1:
            out.append(OrderBookDelta.clear(iid, seq, t, t))
        for r in rows:
            s = OrderSide.BUY if side[r] == 0 else OrderSide.SELL
            q = float(size[r])
            action = (BookAction.ADD if kind[i] == 1 else
                      BookAction.DELETE if q == 0.0 else BookAction.UPDATE)
            seq += 1
            out.append(OrderBookDelta(iid, action, BookOrder(s, Price(float(price[r]), pp),
                                                            Quantity(q, sp), 0), 0, seq, t, t))
        if out:
            last = out[-1]
            out[-1] = OrderBookDelta(last.instrument_id, last.action, last.order, F_LAST,
                                     last.sequence, last.ts_event, last.ts_init)
        data.extend(out)
    return data


def run_once(data, insts, fees, with_strategy: bool = True) -> tuple[float, int, int]:
    engine = BacktestEngine(BacktestEngineConfig(
        logging=LoggingConfig(bypass_logging=True),
        data_engine=DataEngineConfig(buffer_deltas=True)))
    for venue in dict.fromkeys(inst.id.venue for inst in insts):   # both are BINANCE here
        engine.add_venue(venue, OmsType.NETTING, AccountType.MARGIN,
                         [Money(1_000_000, USDT), Money(10, BTC)], book_type=BookType.L2_MBP)
    for inst in insts:
        engine.add_instrument(inst)
    # Nautilus registers book data by the first object of each add_data call: one call per
    # instrument and type, then one stable sort by ts_init (the times are non-decreasing per
    # feed already)
    groups: dict = {}
    for d in data:
        groups.setdefault((type(d).__name__, str(d.instrument_id)), []).append(d)
    keys = list(groups)
    for i, k in enumerate(keys):
        engine.add_data(groups[k], sort=i == len(keys) - 1)
    strat = CrossCheck(CrossCheckConfig(a=str(insts[0].id), b=str(insts[1].id),
                                        fee_a=fees[0], fee_b=fees[1]))
    if with_strategy:
        engine.add_strategy(strat)
    t0 = time.perf_counter()
    engine.run()
    dt = time.perf_counter() - t0
    n, c = strat.updates, strat.crossed
    engine.dispose()
    return dt, n, c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    ev = dict(np.load(a.events, allow_pickle=False))
    grids = [(str(t), str(q)) for t, q in ev["grids"]]
    spot = TestInstrumentProvider.btcusdt_binance()
    perp = TestInstrumentProvider.btcusdt_perp_binance()
    insts = [instrument(CurrencyPair, spot, decimals(grids[0][0]), decimals(grids[0][1])),
             instrument(CryptoPerpetual, perp, decimals(grids[1][0]), decimals(grids[1][1]))]
    fees = [float(x) for x in ev["fees"]]
    t0 = time.perf_counter()
    data = build(ev, insts)
    build_s = time.perf_counter() - t0
    times, bare, updates, crossed = [], [], 0, 0
    for _ in range(a.rounds):
        dt, updates, crossed = run_once(data, insts, fees)
        times.append(dt)
        bare.append(run_once(data, insts, fees, with_strategy=False)[0])
    m = statistics.median(times)
    mb = statistics.median(bare)
    deltas = int(ev["lv_side"].size)
    trades = int(ev["tr_price"].size)
    import nautilus_trader
    print(json.dumps({"version": nautilus_trader.__version__, "seconds": m, "times": times,
                      "deltas": deltas, "trades": trades, "data_objects": len(data),
                      "build_s": build_s, "strategy_updates": updates, "crossed": crossed,
                      "deltas_per_s": deltas / m, "events_per_s": (deltas + trades) / m,
                      "no_strategy_seconds": mb, "no_strategy_deltas_per_s": deltas / mb}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
