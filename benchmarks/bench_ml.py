"""ML inference on the live path and training speed (issue 8 budget: one inference of the default
model <= 20 us median, target 8 us).

    python benchmarks/bench_ml.py [--quick] [--json]

Model: the default architecture of `tradecore ml train` (CandleFeatures -> 9 inputs, Dense 32 ReLU,
Dense 16 ReLU, sigmoid), trained a few epochs on the real Binance BTCUSDT hourly candles
(../shared/data/ohlcv/binance_BTCUSDT_1h_20170817_20240421.csv.gz); inputs are real feature rows
of the last 15 % of the data, one row per call, each call timed on its own (perf_counter_ns;
the timer's own cost, printed, is included in every figure). The cases run in 10 interleaved
rounds so each sees the same share of the (shared, 2-core) machine's background load.

Figures (median and p99 per call), all in the same run:
  * ort OnnxModel.predict_row  - what MLSignalStrategy calls: copy into the pre-allocated buffer,
                                 then the faster of run / IOBinding chosen at warm-up;
  * ort run, plain             - reference: `session.run(None, {name: row[None, :]})` as usually
                                 written (new feed dict and input array per call);
  * ort run, pre-allocated     - session.run with the pre-allocated buffer and feed dict;
  * ort IOBinding              - run_with_iobinding on the bound buffer;
  * numpy forward (MLP.predict) - our float64 training forward pass on one row (reference);
  * feature update alone        - CandleFeatures.live().update on real bars (compiled step);
  * strategy on_bar            - MLSignalStrategy.on_bar end to end: O(1) feature update + model
                                 + decision (a fake context that records nothing), the figure the
                                 "never blocks the loop for longer than the budget" rule is about;
  * LightGBM baseline (ONNX) and a 3-member stacking ensemble (one ONNX graph), same path;
  * training: seconds per epoch on ~41k rows (Adam, batch 256) for the default MLP.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tradecore.core.clock import SimClock as _SimClock  # noqa: E402
from tradecore.core.orders import TradingState  # noqa: E402
from tradecore.ml.baseline import BASELINE_OUTPUT, lightgbm_to_onnx, train_lightgbm  # noqa: E402
from tradecore.ml.data import make_dataset, time_split as _time_split  # noqa: E402
from tradecore.ml.ensemble import Ensemble  # noqa: E402
from tradecore.ml.features import CandleFeatures, load_candles  # noqa: E402
from tradecore.ml.inference import OnnxModel  # noqa: E402
from tradecore.ml.mlp import MLP, Adam  # noqa: E402
from tradecore.ml.onnx_export import mlp_to_onnx  # noqa: E402
from tradecore.strategies.ml_signal import MLSignalStrategy  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "ohlcv" / "binance_BTCUSDT_1h_20170817_20240421.csv.gz"
BUDGET_NS, TARGET_NS = 20_000, 8_000


def timed(fn, rows, reps: int) -> list[int]:
    out = []
    pc = time.perf_counter_ns
    n = len(rows)
    for i in range(reps):
        r = rows[i % n]
        t0 = pc()
        fn(r)
        out.append(pc() - t0)
    return out


def stats(ns: list[int]) -> dict[str, float]:
    s = sorted(ns)
    return {"median_ns": float(statistics.median(s)),
            "p99_ns": float(s[min(len(s) - 1, int(len(s) * 0.99))]), "n": len(s)}


class NullCtx:
    def __init__(self):
        self.clock = _SimClock(0)

    def position_lots(self, v, s):
        return 0

    def trading_state(self):
        return TradingState.HALTED          # decisions run fully; nothing is submitted

    def submit(self, o):
        raise AssertionError


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not DATA.is_file():
        print(f"SKIP: {DATA} is absent")
        return 0
    reps = 5_000 if a.quick else 50_000
    candles = load_candles(str(DATA))
    fs = CandleFeatures()
    ds = make_dataset(candles, fs, label="forward", horizon=4)
    sp = _time_split(ds, 0.15, 0.15, embargo=24)
    Xtr, ytr = ds.X[sp.train], ds.y[sp.train]
    model = MLP(ds.X.shape[1], (32, 16), dropout=0.1, l2=1e-4, seed=0)
    hist = model.fit(Xtr, ytr, epochs=2 if a.quick else 5, batch_size=256, optimizer=Adam(1e-3))
    epoch_s = [e["seconds"] for e in hist.epochs]
    rows64 = [np.ascontiguousarray(r) for r in ds.X[sp.test]]
    rows32 = [r.astype(np.float32) for r in rows64]

    om = OnnxModel(mlp_to_onnx(model).SerializeToString(), "bench", warmup=2000)
    sess, name = om.session, om.input_name
    buf, feed, outs = om.buf, {name: om.buf}, [om.output_name]

    def pre(r):
        buf[0, :] = r
        return sess.run(outs, feed)

    def bound(r):
        buf[0, :] = r
        return om._run_bound()

    # strategy on_bar end to end on real candles (features + model + decision)
    st = MLSignalStrategy("bench", {"enter": 0.5, "exit": 0.5}, model=om, features=fs)
    st.bind(NullCtx())
    c = candles
    for i in range(fs.warmup + 1):
        st.on_bar("binance", "BTCUSDT", int(c.ts_ns[i]), c.open[i], c.high[i], c.low[i],
                  c.close[i], c.volume[i])
    bars = [(int(c.ts_ns[i]), c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i])
            for i in range(fs.warmup + 1, len(c))]
    bar_it = iter(bars * (1 + 2 * reps // len(bars)))
    live = fs.live()

    gbm = train_lightgbm(Xtr, ytr, ds.X[sp.val], ds.y[sp.val])
    ob = OnnxModel(lightgbm_to_onnx(gbm, ds.X.shape[1]), "lgbm", output=BASELINE_OUTPUT,
                   warmup=2000)
    members = []
    for seed in range(3):
        m = MLP(ds.X.shape[1], (32, 16), seed=seed)
        m.fit(Xtr, ytr, epochs=1, optimizer=Adam(1e-3))
        members.append(m)
    ens = Ensemble.fit(members, ds.X[sp.val], ds.y[sp.val], "stacking")
    oe = OnnxModel(ens.to_onnx().SerializeToString(), "ens", warmup=2000)

    cases = [
        (f"ort OnnxModel.predict_row ({om.mode})", om.predict_row, rows64),
        ("ort run, plain (reference)", lambda r: sess.run(None, {name: r[None, :]}), rows32),
        ("ort run, pre-allocated", pre, rows64),
        ("ort IOBinding", bound, rows64),
        ("numpy forward (MLP.predict, float64)", lambda r: model.predict(r[None, :]), rows64),
        ("feature update alone (CandleFeatures.live)", lambda b: live.update(*b), bars),
        ("strategy on_bar (features + model + decision)",
         lambda _: st.on_bar("binance", "BTCUSDT", *next(bar_it)), rows64),
        (f"LightGBM baseline ONNX ({gbm.best_iteration_} trees)", ob.predict_row, rows64),
        ("stacking ensemble of 3 MLPs (one ONNX graph)", oe.predict_row, rows64),
    ]
    # interleaved rounds: every case sees the same share of the machine's background load
    samples: dict[str, list[int]] = {k: [] for k, _, _ in cases}
    rounds = 10
    for _ in range(rounds):
        for k, fn, rows in cases:
            samples[k] += timed(fn, rows, reps // rounds)
    res = {k: stats(v) for k, v in samples.items()}
    t_timer = stats(timed(lambda r: None, rows64, reps))
    if a.json:
        print(json.dumps({"results": res, "train_epoch_s": epoch_s, "timer": t_timer,
                          "python": platform.python_version()}, indent=2))
        return 0
    print(f"python {platform.python_version()}, onnxruntime single thread, {reps} calls each; "
          f"timer+loop overhead median {t_timer['median_ns']:.0f} ns (included below)")
    print(f"{'what':52s} {'median':>9s} {'p99':>9s}  budget 20 us / target 8 us")
    for k, v in res.items():
        med = v["median_ns"]
        status = ("OK (target)" if med <= TARGET_NS else "OK (budget)" if med <= BUDGET_NS
                  else "OVER BUDGET")
        print(f"{k:52s} {med / 1000:8.2f}us {v['p99_ns'] / 1000:8.2f}us  {status}")
    print(f"training, default MLP: {statistics.median(epoch_s):.3f} s per epoch on {len(Xtr)} rows "
          f"(median of {len(epoch_s)} epochs; numpy + BLAS)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
