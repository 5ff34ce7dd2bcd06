"""Limits are validated when built: a wrong value is a ValueError naming the field, the value and
what was expected; zero disables a limit."""
from __future__ import annotations

import pytest

from tradecore.risk.limits import ClusterLimit, RiskLimits, SymbolLimits


@pytest.mark.parametrize("kw, field", [
    ({"max_order_lots": -1}, "max_order_lots"),
    ({"max_order_lots": 1.5}, "max_order_lots"),
    ({"max_order_notional": float("inf")}, "max_order_notional"),
    ({"price_band": -0.01}, "price_band"),
    ({"max_mid_age_ns": True}, "max_mid_age_ns"),
    ({"spot": False, "leverage": 0.0}, "leverage"),
    ({"spot": True, "leverage": 3.0}, "leverage"),
])
def test_symbol_limits_when_a_value_is_wrong_raises_naming_field_value_and_expectation(kw, field):
    with pytest.raises(ValueError, match=rf"SymbolLimits\.{field} = .*: expected "):
        SymbolLimits(**kw)


@pytest.mark.parametrize("kw, field", [
    ({"max_gross_notional": -1.0}, "max_gross_notional"),
    ({"order_burst": 0}, "order_burst"),
    ({"max_cancels_per_sec": float("nan")}, "max_cancels_per_sec"),
    ({"require_balance": 1}, "require_balance"),
    ({"default_symbol": {}}, "default_symbol"),
    ({"capacity": 0}, "capacity"),
])
def test_risk_limits_when_a_value_is_wrong_raises_naming_field_value_and_expectation(kw, field):
    with pytest.raises(ValueError, match=rf"RiskLimits\.{field} = .*: expected "):
        RiskLimits(**kw)


def test_cluster_limit_when_signs_or_members_are_wrong_raises():
    with pytest.raises(ValueError, match="signs"):
        ClusterLimit((("a", "x"), ("a", "y")), (1, 0), 1.0)
    with pytest.raises(ValueError, match="members"):
        ClusterLimit((("a", "x"), ("a", "x")), (1, 1), 1.0)
    with pytest.raises(ValueError, match="limit"):
        ClusterLimit((("a", "x"),), (1,), 0.0)


def test_risk_limits_period_ns_when_rate_is_zero_means_no_throttle():
    assert RiskLimits.period_ns(0) == 0
    assert RiskLimits.period_ns(10) == 100_000_000


def test_risk_limits_refuse_a_rate_too_small_for_an_int64_period():
    import pytest as _pt
    from tradecore.risk.limits import RiskLimits
    with _pt.raises(ValueError, match="max_cancels_per_sec"):
        RiskLimits(max_cancels_per_sec=1e-320)
    with _pt.raises(ValueError, match="max_orders_per_sec"):
        RiskLimits(max_orders_per_sec=5e-10)
    assert RiskLimits.period_ns(RiskLimits(max_orders_per_sec=1e-9).max_orders_per_sec) > 0
