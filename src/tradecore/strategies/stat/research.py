"""The plain backtest of docs/stat-arb.md: every aligned real pair, default settings, after fees.

    python -m tradecore.strategies.stat.research [--data ../shared/data/ohlcv] [--fee 0.001]

Nothing is tuned: PairParams() defaults (168-bar windows, entry 2, exit 0.5, stop 4, time stop
168 bars) for every pair and interval, both hedge methods, fills one bar after the signal (lag 1),
10 000 quote gross per trade, the given taker fee on each leg's every fill. Every available pair is
run (none is picked for looking good); the Engle-Granger p-value printed beside it is over the
whole sample, i.e. in-sample context, not a selection step.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tradecore.strategies.stat.batch import backtest_pair
from tradecore.strategies.stat.params import PairParams
from tradecore.strategies.stat.selection import align_closes, pair_stats, read_closes

PAIRS = [  # (label, y file, x file, coint maxlag: None = statsmodels' default with AIC)
    ("Binance 1h ETHUSDT~BTCUSDT 2021-04..09", "binance_ETHUSDT_1h_20210426_20210927.csv",
     "binance_BTCUSDT_1h_20170817_20240421.csv.gz", None),
    ("Binance.US 1m BTCUSDC~BTCUSDT 2023-03", "binanceus_BTCUSDC_1m_20230301_20230321.csv.gz",
     "binanceus_BTCUSDT_1m_20230301_20230321.csv.gz", 10),
    ("Binance.US 1m BTCUSD~BTCUSDT 2023-03", "binanceus_BTCUSD_1m_20230301_20230321.csv.gz",
     "binanceus_BTCUSDT_1m_20230301_20230321.csv.gz", 10),
    ("Binance.US 1m BTCUSDC~BTCUSD 2023-03", "binanceus_BTCUSDC_1m_20230301_20230321.csv.gz",
     "binanceus_BTCUSD_1m_20230301_20230321.csv.gz", 10),
    ("Bitstamp 1d LTCUSD~ETHUSD 2017-11..2020-01", "bitstamp_LTCUSD_1d_20170625_20200117.csv",
     "bitstamp_ETHUSD_1d_20171109_20200117.csv", None),
    ("Bitstamp 1d ETHUSD~BTCUSD 2017-11..2020-01", "bitstamp_ETHUSD_1d_20171109_20200117.csv",
     "bitstamp_BTCUSD_1d_20141128_20200117.csv", None),
    ("Coinbase~Bitstamp 1d BTCUSD 2014-12..2019-10", "coinbase_BTCUSD_1d_20141201_20191017.csv",
     "bitstamp_BTCUSD_1d_20141128_20200117.csv", None),
]


def run(data: Path, fee: float, notional: float = 10_000.0) -> list[dict]:
    rows = []
    for label, fy, fx, maxlag in PAIRS:
        al = align_closes({"y": read_closes(str(data / fy)), "x": read_closes(str(data / fx))})
        py, px = al.close("y"), al.close("x")
        st = pair_stats(("", "y"), ("", "x"), np.log(py), np.log(px), 0.0, 0.0, maxlag=maxlag)
        for hedge in ("ols", "kalman"):
            p = PairParams(hedge=hedge)
            _, net = backtest_pair(py, px, p, notional=notional, fee_y=fee, fee_x=fee)
            _, gross = backtest_pair(py, px, p, notional=notional, fee_y=0.0, fee_x=0.0)
            s = net.summary()
            rows.append({"pair": label, "bars": int(py.size), "eg_pvalue": st.eg_pvalue,
                         "half_life": st.half_life, "hedge": hedge, "trades": s["trades"],
                         "pnl_before_fees": gross.net_pnl, "fees": s["fees"],
                         "pnl_after_fees": s["net_pnl"], "win_rate": s["win_rate"],
                         "max_drawdown": s["max_drawdown"], "exits": s["exits"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[4].parent / "shared"
                                          / "data" / "ohlcv"))
    ap.add_argument("--fee", type=float, default=0.001, help="taker fee per leg per fill")
    a = ap.parse_args(argv)
    rows = run(Path(a.data), a.fee)
    print(f"| pair | bars | EG p (in-sample) | half-life (bars) | hedge | trades | PnL before "
          f"fees | fees ({a.fee:.2%}/leg) | PnL after fees | win rate | max DD |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['pair']} | {r['bars']} | {r['eg_pvalue']:.3f} | {r['half_life']:.1f} | "
              f"{r['hedge']} | {r['trades']} | {r['pnl_before_fees']:+.0f} | {r['fees']:.0f} | "
              f"{r['pnl_after_fees']:+.0f} | {r['win_rate']:.0%} | {r['max_drawdown']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
