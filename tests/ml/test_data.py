"""Labels without look-ahead, purging and embargo, walk-forward folds."""
from __future__ import annotations

import numpy as np
import pytest

from tradecore.ml.data import (forward_returns, make_dataset, purge_mask, purged_kfold,
                               time_split, triple_barrier, walk_forward_folds)
from tradecore.ml.features import Candles


def test_forward_return_label_uses_exactly_the_bars_t_to_t_plus_h(btc_candles):
    c = btc_candles.close[:1000]
    y, t1 = forward_returns(c, 4)
    assert y[10] == pytest.approx(np.log(c[14] / c[10]))
    assert t1[10] == 14
    assert np.isnan(y[-4:]).all() and (t1[-4:] == -1).all()
    # shift test: changing bars after t+h leaves label t unchanged; changing bar t+h changes it
    c2 = c.copy()
    c2[15:] *= 2.0
    y2, _ = forward_returns(c2, 4)
    np.testing.assert_array_equal(y2[:11], y[:11])
    assert y2[11] != y[11]


def test_triple_barrier_label_is_decided_by_the_first_touch_and_only_uses_t1_bars(btc_candles):
    c = btc_candles.slice(0, 3000)
    vol = np.full(len(c), 0.01)
    y, t1 = triple_barrier(c, vol, horizon=12, k_up=1.0, k_dn=1.0)
    for t in (50, 500, 1500, 2500):
        up, dn = c.close[t] * np.exp(0.01), c.close[t] * np.exp(-0.01)
        want, end = None, t + 12
        for s in range(t + 1, t + 13):
            if c.high[s] >= up or c.low[s] <= dn:
                both = c.high[s] >= up and c.low[s] <= dn
                want = (1.0 if c.close[s] >= up else -1.0 if c.close[s] <= dn else 0.0) if both \
                    else (1.0 if c.high[s] >= up else -1.0)
                end = s
                break
        if want is None:
            want = float(np.sign(np.log(c.close[t + 12] / c.close[t])))
        assert (y[t], t1[t]) == (want, end)
        # no look-ahead: bars after t1 do not matter
        alt = Candles(c.ts_ns, c.open, c.high.copy(), c.low.copy(), c.close.copy(), c.volume)
        alt.high[end + 1:] *= 3
        alt.low[end + 1:] /= 3
        alt.close[end + 1:] *= 1.01
        y2, t12 = triple_barrier(alt, vol, 12)
        assert (y2[t], t12[t]) == (y[t], t1[t])


def test_purge_mask_drops_overlapping_labels_and_the_embargo():
    t0 = np.arange(30)
    t1 = t0 + 3
    keep = purge_mask(t0, t1, test_start=10, test_end=19, embargo=4)
    dropped = set(np.flatnonzero(~keep))
    # labels of 7, 8, 9 end inside the test block; 10..19 are the test; 20..23 embargoed
    assert dropped == set(range(7, 24))
    with pytest.raises(ValueError):
        purge_mask(t0, t1, 5, 4)


def test_time_split_has_no_training_label_reaching_into_validation_or_test(btc_dataset):
    ds = btc_dataset
    sp = time_split(ds, 0.15, 0.15, embargo=24)
    assert ds.t1[sp.train].max() < ds.t0[sp.val].min()
    assert ds.t1[sp.val].max() < ds.t0[sp.test].min()
    assert len(set(sp.train) & set(sp.val)) == 0 and len(set(sp.val) & set(sp.test)) == 0


def test_walk_forward_trains_only_on_the_past_purged_against_each_test_block(btc_candles,
                                                                               features):
    ds = make_dataset(btc_candles, features, label="forward", horizon=12)
    folds = walk_forward_folds(ds, 5, min_train_frac=0.4, embargo=24)
    assert len(folds) == 5
    prev_end = -1
    for f in folds:
        assert ds.t1[f.train].max() < ds.t0[f.val].min()
        assert ds.t1[f.val].max() < ds.t0[f.test].min()
        assert f.test[0] == prev_end + 1 or prev_end == -1
        prev_end = f.test[-1]
    assert prev_end == len(ds) - 1
    assert len(folds[-1].train) > len(folds[0].train)


def test_make_dataset_refuses_unknown_label_kinds_and_tasks(btc_candles, features):
    c = btc_candles.slice(0, 500)
    with pytest.raises(ValueError, match="label must be"):
        make_dataset(c, features, label="future")
    with pytest.raises(ValueError, match="supports task"):
        make_dataset(c, features, label="forward", task="multiclass")
    ds = make_dataset(c, features, label="triple_barrier", horizon=6, task="multiclass")
    assert set(np.unique(ds.y)) <= {0.0, 1.0, 2.0}


def test_purged_kfold_purges_before_and_embargoes_after_each_test_block(btc_candles, features):
    ds = make_dataset(btc_candles.slice(0, 6000), features, label="forward", horizon=12)
    folds = purged_kfold(ds, 4, embargo=48)
    for i, sp in enumerate(folds):
        a, b = int(ds.t0[sp.test[0]]), int(ds.t0[sp.test[-1]])
        tr = sp.train
        before, after = tr[ds.t0[tr] < a], tr[ds.t0[tr] > b]
        assert len(set(tr) & set(sp.test)) == 0
        if len(before):
            assert ds.t1[before].max() < a                       # purged
        if len(after):
            assert ds.t0[after].min() > b + 48                   # embargoed
        if 0 < i < len(folds) - 1:
            # a middle block loses 12 purged samples before it and 48 embargoed after it
            assert len(tr) + len(sp.test) == len(ds) - 12 - 48
    with pytest.raises(ValueError, match="k"):
        purged_kfold(ds, 1)
