"""VaR / CVaR kernels (Numba) against plain numpy / scipy formulas, on real hourly BTCUSDT and
ETHUSDT returns (Binance, 2021-04-26 .. 2021-05-26) and on random inputs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from test_correlation import aligned_returns

from tradecore.risk.var import (historical_var, monte_carlo_var, norm_ppf, parametric_var,
                                portfolio_historical_var, portfolio_parametric_var)


@pytest.fixture(scope="module")
def rets() -> np.ndarray:
    return aligned_returns(simple=True)[1]          # (T, 2): BTC, ETH


def np_historical(r: np.ndarray, a: float) -> tuple[float, float]:
    loss = -r
    var = float(np.quantile(loss, a))
    return var, float(loss[loss >= var].mean())


@settings(max_examples=300, deadline=None)
@given(p=st.floats(1e-12, 1 - 1e-12))
def test_norm_ppf_when_compared_with_scipy_agrees_to_double_precision(p):
    assert norm_ppf(p) == pytest.approx(stats.norm.ppf(p), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("alpha", [0.9, 0.95, 0.99])
def test_historical_var_when_given_real_btc_returns_equals_numpy_quantile_and_tail_mean(
        rets, alpha):
    v, c = historical_var(rets[:, 0], alpha)
    ev, ec = np_historical(rets[:, 0], alpha)
    assert v == pytest.approx(ev, rel=1e-12) and c == pytest.approx(ec, rel=1e-12)
    assert c >= v > 0


@settings(max_examples=100, deadline=None)
@given(x=st.lists(st.floats(-0.5, 0.5), min_size=2, max_size=300),
       alpha=st.floats(0.5, 0.999))
def test_historical_var_when_given_random_returns_equals_numpy(x, alpha):
    r = np.array(x)
    v, c = historical_var(r, alpha)
    ev, ec = np_historical(r, alpha)
    assert v == pytest.approx(ev, rel=1e-9, abs=1e-12)
    assert c == pytest.approx(ec, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("alpha", [0.95, 0.99])
def test_parametric_var_when_gaussian_equals_the_closed_form(rets, alpha):
    r = rets[:, 1]
    mu, sd = r.mean(), r.std(ddof=1)
    z = stats.norm.ppf(alpha)
    v, c = parametric_var(r, alpha)
    assert v == pytest.approx(-mu + sd * z, rel=1e-10)
    assert c == pytest.approx(-mu + sd * stats.norm.pdf(z) / (1 - alpha), rel=1e-10)


def test_parametric_var_when_cornish_fisher_matches_the_expansion_with_scipy_moments(rets):
    r, a = rets[:, 0], 0.99
    mu, sd = r.mean(), r.std(ddof=1)
    s, k = stats.skew(r), stats.kurtosis(r)          # bias=True, excess kurtosis
    z = stats.norm.ppf(1 - a)
    zcf = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    v, c = parametric_var(r, a, True)
    assert v == pytest.approx(-mu - sd * zcf, rel=1e-10)
    # CVaR: the corrected quantile averaged over the tail (scipy quad as the reference)
    from scipy.integrate import quad

    def q(u):
        z = stats.norm.ppf(u)
        return z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    tail = quad(q, 0, 1 - a, limit=200)[0] / (1 - a)
    assert c == pytest.approx(-mu - sd * tail, rel=2e-3)
    # fat tails of real hourly crypto returns: CF VaR differs from the Gaussian one
    assert k > 1 and v != pytest.approx(parametric_var(r, a)[0], rel=1e-3)


def test_monte_carlo_var_when_simulating_the_real_covariance_converges_to_the_gaussian(rets):
    mean, cov = rets.mean(axis=0), np.cov(rets, rowvar=False)
    w = np.array([0.6, 0.4])
    pv, pc = portfolio_parametric_var(mean, cov, w, 0.99)
    rp = rets @ w
    assert pv == pytest.approx(-rp.mean() + rp.std(ddof=1) * stats.norm.ppf(0.99), rel=1e-10)
    mv, mc = monte_carlo_var(mean, cov, w, 0.99, 400_000, 7)
    assert mv == pytest.approx(pv, rel=0.02) and mc == pytest.approx(pc, rel=0.02)


def test_monte_carlo_var_when_seed_is_the_same_gives_the_same_answer(rets):
    mean, cov = rets.mean(axis=0), np.cov(rets, rowvar=False)
    w = np.array([0.5, 0.5])
    assert monte_carlo_var(mean, cov, w, 0.95, 10_000, 1) == \
        monte_carlo_var(mean, cov, w, 0.95, 10_000, 1)
    assert monte_carlo_var(mean, cov, w, 0.95, 10_000, 1) != \
        monte_carlo_var(mean, cov, w, 0.95, 10_000, 2)


def test_portfolio_historical_var_when_weights_pick_one_asset_equals_its_own_var(rets):
    assert portfolio_historical_var(rets, np.array([0.0, 1.0]), 0.95) == \
        pytest.approx(historical_var(rets[:, 1].copy(), 0.95))
    both = portfolio_historical_var(rets, np.array([0.5, 0.5]), 0.95)
    assert both == pytest.approx(np_historical(rets @ np.array([0.5, 0.5]), 0.95))


def test_var_when_input_is_too_short_or_alpha_is_outside_0_1_is_nan():
    assert np.isnan(historical_var(np.array([0.01]), 0.95)[0])
    assert np.isnan(parametric_var(np.array([0.01, 0.02, 0.03]), 1.0)[0])
