"""Metrics and the signal backtest after fees, on hand-computed cases and real candles."""
from __future__ import annotations

import numpy as np
import pytest

from tradecore.ml.cli import results_from_backtest
from tradecore.ml.evaluate import (auc, backtest_signal, buy_and_hold, log_loss,
                                   positions_from_probs, segments)


def test_auc_and_log_loss_match_hand_computed_values():
    p = np.array([0.1, 0.4, 0.35, 0.8])
    y = np.array([0, 0, 1, 1])
    assert auc(p, y) == pytest.approx(0.75)
    assert auc(np.array([0.5, 0.5]), np.array([0, 1])) == pytest.approx(0.5)
    assert log_loss(np.array([0.8, 0.3]), np.array([1, 0])) == pytest.approx(
        -(np.log(0.8) + np.log(0.7)) / 2)


def test_hysteresis_enters_on_enter_and_leaves_on_exit():
    pos = positions_from_probs(np.array([0.5, 0.56, 0.52, 0.49, 0.44, 0.47, 0.51]), 0.55, 0.5)
    np.testing.assert_array_equal(pos, [0, 1, 1, 0, -1, -1, 0])
    assert positions_from_probs(np.array([0.3]), 0.55, 0.5, long_only=True)[0] == 0


def test_backtest_equity_compounds_returns_net_of_fees_and_segments_add_up():
    c = np.array([100, 110, 99, 120, 130.0])
    fwd = np.r_[c[1:] / c[:-1] - 1, 0.0]
    bt = backtest_signal(np.array([1, 1, -1, 0, 1.0]), fwd, np.arange(5) * 10, c, fee=0.01,
                         start_equity=100, bar_ns=10)
    want = 100 * 0.99 * 1.1 * 0.9 * 0.99 * 0.99 * (1 - 21 / 99) * 0.99 * 0.99 * 0.99
    assert bt.equity[-1] == pytest.approx(want)
    rts = segments(bt)
    assert [r.side for r in rts] == [1, -1, 1]
    assert sum(r.pnl for r in rts) == pytest.approx(bt.equity[-1] - 100)


def test_buy_and_hold_pays_one_entry_and_one_exit_fee(btc_candles):
    c = btc_candles.close[:2000]
    fwd = np.r_[c[1:] / c[:-1] - 1, 0.0]
    bh = buy_and_hold(fwd, btc_candles.ts_ns[:2000], c, fee=0.001, start_equity=1.0)
    assert bh.equity[-1] == pytest.approx(c[-1] / c[0] * 0.999 * 0.999, rel=1e-9)
    res = results_from_backtest(bh, run_id="bh", strategy="bh", venue="binance",
                                symbol="BTCUSDT", config={})
    assert len(res.trades) == 1 and res.trades[0].exit_reason == "end of run"


def test_per_bar_entry_thresholds_apply_bar_by_bar():
    p = np.array([0.58, 0.58, 0.58, 0.58])
    pos = positions_from_probs(p, np.array([0.6, 0.6, 0.55, 0.55]), 0.5)
    np.testing.assert_array_equal(pos, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="exit <= enter"):
        positions_from_probs(p, np.array([0.6, 0.45, 0.6, 0.6]), 0.5)


def test_threshold_chosen_on_validation_is_flat_when_no_threshold_pays(btc_dataset):
    from tradecore.ml.train import _pick_enter, load_config
    cfg = load_config(None, {"backtest": {"select_enter_on_val": True}})
    va = btc_dataset.take(np.arange(1000, 3000))
    # a model anti-correlated with the next bar loses at every threshold: stay flat (0.99);
    # a perfect one wins at every threshold up to 0.7 with the same positions: ties go higher
    anti = np.where(va.fwd > 0, 0.3, 0.7)
    assert _pick_enter(cfg, anti, va) == 0.99
    perfect = np.where(va.fwd > 0, 0.9, 0.1)
    assert _pick_enter(cfg, perfect, va) == 0.7
