"""EWMA covariance/correlation (incremental == batch), clusters by correlation threshold, and the
clusters pushed into the gate, on real hourly Binance returns (BTCUSDT, ETHUSDT, ETHBTC,
2021-04-26 .. 2021-05-26, aligned by candle open time)."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from _riskkit import BTC, ETH, make_gate, order
from datafiles import shared_file
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tradecore.core.orders import DenyReason as D
from tradecore.core.orders import Side
from tradecore.risk.correlation import (EwmaCovariance, cluster_limits, cov_to_corr,
                                        ewma_cov_batch, find_clusters, push_clusters)

FILES = {"BTCUSDT": "ohlcv/binance_BTCUSDT_1h_20210426_20210526.csv",
         "ETHUSDT": "ohlcv/binance_ETHUSDT_1h_20210426_20210927.csv",
         "ETHBTC": "ohlcv/binance_ETHBTC_1h_20210426_20210529.csv"}


def _closes(rel: str) -> dict[int, float]:
    with open(shared_file(rel)) as f:
        return {int(r["ts_ms"]): float(r["close"]) for r in csv.DictReader(f)}


def aligned_returns(symbols=("BTCUSDT", "ETHUSDT"), simple: bool = False):
    """(common open times, (T, k) returns) over the hours every file has, consecutive only."""
    closes = [_closes(FILES[s]) for s in symbols]
    ts = sorted(set.intersection(*(set(c) for c in closes)))
    px = np.array([[c[t] for c in closes] for t in ts])
    ok = np.diff(np.array(ts)) == 3_600_000          # a gap is not a one-hour return
    r = (px[1:] / px[:-1] - 1.0) if simple else np.diff(np.log(px), axis=0)
    return np.array(ts[1:])[ok], r[ok]


def test_ewma_when_updated_bar_by_bar_on_real_returns_equals_the_batch_version():
    _, r = aligned_returns(("BTCUSDT", "ETHUSDT", "ETHBTC"))
    inc = EwmaCovariance(3, lam=0.97)
    for row in r:
        inc.update(row)
    assert inc.n == len(r) > 700
    np.testing.assert_allclose(inc.cov, ewma_cov_batch(r, 0.97), rtol=1e-12, atol=0)


@settings(max_examples=100, deadline=None)
@given(r=hnp.arrays(np.float64, st.tuples(st.integers(1, 60), st.integers(1, 5)),
                    elements=st.floats(-0.2, 0.2)),
       lam=st.floats(0.5, 0.999))
def test_ewma_when_given_random_returns_incremental_equals_batch(r, lam):
    inc = EwmaCovariance(r.shape[1], lam)
    for row in r:
        inc.update(row)
    np.testing.assert_allclose(inc.cov, ewma_cov_batch(r, lam), rtol=1e-9, atol=1e-15)
    c = inc.corr
    assert np.allclose(c, c.T) and np.all(np.abs(c) <= 1.0) and np.all(np.diag(c) == 1.0)


def test_ewma_corr_when_btc_and_eth_move_together_is_high_and_equals_numpy_on_equal_weights():
    _, r = aligned_returns()
    c = EwmaCovariance(2, lam=0.99)
    for row in r:
        c.update(row)
    assert c.corr[0, 1] > 0.7                               # BTC and ETH, May 2021
    # lam -> 1: equal weights, the zero-mean sample covariance
    w = ewma_cov_batch(r[:50], 1.0 - 1e-12)
    m = (r[:50].T @ r[:50]) / 50
    np.testing.assert_allclose(w, m, rtol=1e-9)


def test_find_clusters_when_threshold_varies_groups_real_symbols_as_their_correlation_says():
    _, r = aligned_returns(("BTCUSDT", "ETHUSDT", "ETHBTC"))
    corr = cov_to_corr(ewma_cov_batch(r, 0.99))
    assert find_clusters(corr, 0.999) == []
    low = min(abs(corr[0, 1]), abs(corr[0, 2]), abs(corr[1, 2]))
    members, signs = find_clusters(corr, max(low - 1e-9, 1e-9))[0]
    assert members == [0, 1, 2] and signs[0] == 1
    # BTC~ETH alone
    cl = find_clusters(corr, (abs(corr[0, 1]) + max(abs(corr[0, 2]), abs(corr[1, 2]))) / 2)
    if abs(corr[0, 1]) > max(abs(corr[0, 2]), abs(corr[1, 2])):
        assert cl == [([0, 1], [1, 1])]


def test_find_clusters_when_a_member_is_negatively_correlated_gives_it_sign_minus_one():
    corr = np.array([[1.0, 0.9, -0.8], [0.9, 1.0, -0.7], [-0.8, -0.7, 1.0]])
    assert find_clusters(corr, 0.6) == [([0, 1, 2], [1, 1, -1])]
    assert find_clusters(corr, 0.85) == [([0, 1], [1, 1])]


def test_push_clusters_when_real_btc_eth_correlate_makes_the_gate_limit_them_together():
    _, r = aligned_returns()
    corr = cov_to_corr(ewma_cov_batch(r, 0.99))
    g = make_gate()
    g.set_position("binance", "ETHUSDT", 8_000)                 # 0.8 ETH ~ 2003
    cl = push_clusters(g, [BTC.key, ETH.key], corr, 0.6, 2_500.0)
    assert cl and cl[0].members == (BTC.key, ETH.key) and cl[0].signs == (1, 1)
    assert g.check(order(Side.BUY, 1_000)) is D.CLUSTER_EXPOSURE    # + 618 BTC
    assert g.check(order(Side.BUY, 500)) is D.NONE                  # + 309
    g2 = make_gate()
    g2.set_position("binance", "ETHUSDT", 8_000)
    push_clusters(g2, [BTC.key, ETH.key], corr, 0.999, 2_500.0)     # no cluster
    assert g2.check(order(Side.BUY, 1_000)) is D.NONE


def test_cluster_limits_when_keys_do_not_match_the_matrix_raises():
    with pytest.raises(ValueError, match="3 keys"):
        cluster_limits([BTC.key, ETH.key, ("x", "y")], np.eye(2), 0.5, 1.0)


def test_ewma_update_when_a_return_is_nan_raises_and_changes_nothing():
    c = EwmaCovariance(2)
    c.update([0.01, 0.02])
    before = c.cov.copy()
    with pytest.raises(ValueError, match="finite"):
        c.update([0.01, float("nan")])
    assert np.array_equal(c.cov, before) and c.n == 1
