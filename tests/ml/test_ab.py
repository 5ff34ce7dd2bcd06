"""A/B routing and the significance tests."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tradecore.ml.ab import (ABRouter, binomial_test, compare, compare_logged, decide,
                             paired_test, replay_compare, signal_pnl, welch_test)
from tradecore.ml.data import time_split
from tradecore.ml.mlp import MLP, Adam


class M:
    def __init__(self, mid):
        self.model_id = mid


def test_share_routing_sends_the_configured_fraction_reproducibly():
    a, b = M("a"), M("b")
    r1 = ABRouter(a, b, share=0.2, seed=7)
    roles = [r1.route("BTCUSDT").role for _ in range(20_000)]
    frac = roles.count("challenger") / len(roles)
    assert abs(frac - 0.2) < 0.01
    r2 = ABRouter(a, b, share=0.2, seed=7)
    assert [r2.route("BTCUSDT").role for _ in range(20_000)] == roles


def test_symbol_routing_and_shadow_mode():
    a, b = M("a"), M("b")
    r = ABRouter(a, b, challenger_symbols=("ETHUSDT",))
    assert r.route("ETHUSDT").model is b and r.route("BTCUSDT").model is a
    s = ABRouter(a, b, shadow=True)
    d = s.route("BTCUSDT")
    assert d.model is a and d.shadow is b
    with pytest.raises(ValueError, match="shadow"):
        ABRouter(a, b, shadow=True, share=0.5)
    with pytest.raises(ValueError, match="need a challenger"):
        ABRouter(a, share=0.5)
    with pytest.raises(ValueError, match="share"):
        ABRouter(a, b, share=1.5)


def test_binomial_test_matches_hand_computed_values():
    # P(X <= 2 or X >= 8), X ~ Bin(10, .5) = 2 * (1 + 10 + 45) / 1024
    assert binomial_test(8, 10) == pytest.approx(112 / 1024)
    assert binomial_test(5, 10) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        binomial_test(11, 10)


def test_paired_test_finds_a_real_difference_and_not_a_fake_one():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 2000)
    better = a + rng.normal(0.1, 0.5, 2000)
    same = a + rng.normal(0.0, 0.5, 2000)
    assert paired_test(a, better)["p_value"] < 1e-6
    assert paired_test(a, better)["p_bootstrap"] < 0.01
    r = paired_test(a, same)
    assert r["p_value"] > 0.05 and r["ci95"][0] < 0 < r["ci95"][1]
    # t statistic of the differences by hand
    d = better - a
    assert paired_test(a, better)["t"] == pytest.approx(d.mean() / (d.std(ddof=1) / math.sqrt(2000)))
    w = welch_test(a, better)
    assert w["mean_diff"] == pytest.approx(better.mean() - a.mean())


def test_signal_pnl_charges_fees_on_position_changes():
    pnl = signal_pnl(np.array([0.6, 0.6, 0.3, 0.51]), np.array([0.01, -0.02, -0.01, 0.03]),
                     enter=0.55, exit=0.5, fee=0.001)
    np.testing.assert_allclose(pnl, [0.01 - 0.001, -0.02, 0.01 - 0.002, 0.0 - 0.001])


def test_decide_needs_enough_signals_and_significance():
    base = {"test": {"n": 50, "p_value": 1e-9, "mean_diff": 0.1}}
    assert decide(base) == "keep testing"
    base["test"]["n"] = 500
    assert decide(base) == "promote"
    base["test"]["mean_diff"] = -0.1
    assert decide(base) == "reject"


def test_replay_compare_of_two_models_on_real_candles(btc_dataset):
    ds = btc_dataset
    sp = time_split(ds, 0.15, 0.15, embargo=24)
    a = MLP(ds.X.shape[1], (16,), seed=0)
    a.fit(ds.X[sp.train], ds.y[sp.train], epochs=2, optimizer=Adam(1e-3))
    b = a.clone()
    res = replay_compare(a, b, ds.X[sp.test], ds.fwd[sp.test])
    # identical models: no difference at all, so no decision to promote
    assert res["test"]["mean_diff"] == 0.0 and res["decision"] == "keep testing"
    c = MLP(ds.X.shape[1], (16,), seed=5)
    c.fit(ds.X[sp.train], ds.y[sp.train], epochs=2, optimizer=Adam(1e-3))
    res2 = compare(signal_pnl(a.predict(ds.X[sp.test]).ravel(), ds.fwd[sp.test]),
                   signal_pnl(c.predict(ds.X[sp.test]).ravel(), ds.fwd[sp.test]), paired=True)
    assert res2["test"]["n"] == len(sp.test) and 0.0 <= res2["test"]["p_value"] <= 1.0


def test_logged_shadow_predictions_are_compared_paired_on_real_closes(btc_candles):
    c = btc_candles.slice(20_000, 22_000)
    fwd = np.r_[c.close[1:] / c.close[:-1] - 1, np.nan]
    rng = np.random.default_rng(3)
    log = []
    for i in range(len(c) - 1):
        # the challenger "knows" the next bar half of the time; the champion is noise
        good = 0.8 if fwd[i] > 0 else 0.2
        log.append(("BTCUSDT", int(c.ts_ns[i]), "champ", float(rng.random()), False))
        log.append(("BTCUSDT", int(c.ts_ns[i]), "chall",
                    good if rng.random() < 0.5 else float(rng.random()), True))
    log.append(("ETHUSDT", int(c.ts_ns[0]), "chall", 0.9, True))      # other symbol: ignored
    res = compare_logged(log, "BTCUSDT", c.ts_ns, c.close, "champ", "chall")
    assert res["paired"] and res["test"]["n"] == len(c) - 1
    assert res["test"]["mean_diff"] > 0 and res["decision"] == "promote"
    # routed traffic (different bars per model) is compared unpaired
    routed = [e for k, e in enumerate(log[:-1]) if (k // 2) % 2 == (e[2] == "chall")]
    r2 = compare_logged(routed, "BTCUSDT", c.ts_ns, c.close, "champ", "chall")
    assert not r2["paired"] and "n_a" in r2["test"]
