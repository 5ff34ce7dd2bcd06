"""Runtime control of a node: risk limits, strategy settings, start/stop, kill switch."""
from __future__ import annotations

import pytest
from _api_helpers import Feeder, limit_buy_at_touch, make_node

from tradecore.api.control import ApiError, Control
from tradecore.core.orders import DenyReason, OrderStatus, TradingState


@pytest.fixture
def fed():
    node = make_node()
    f = Feeder(node)
    f.until_books()
    return node, f, Control(node)


def test_update_risk_limits_when_valid_applies_to_the_gate_at_once(fed):
    node, f, ctl = fed
    out = ctl.update_risk_limits({"symbols": {"binance:BTCUSDT": {"max_order_notional": 10.0}}})
    assert out["symbols"]["binance:BTCUSDT"]["max_order_notional"] == 10.0
    o = node.exec.submit(limit_buy_at_touch(node, "t-1", lots=100))      # ~ 61 USDT
    assert o.status == OrderStatus.DENIED and o.deny_reason == DenyReason.MAX_ORDER_NOTIONAL


def test_update_risk_limits_when_portfolio_changes_sets_the_kernel(fed):
    node, f, ctl = fed
    ctl.update_risk_limits({"portfolio": {"max_gross_notional": 1.0}})
    assert node.gate.limits.max_gross_notional == 1.0
    o = node.exec.submit(limit_buy_at_touch(node, "t-2", lots=100))
    assert o.deny_reason == DenyReason.MAX_GROSS_EXPOSURE


def test_update_risk_limits_when_one_part_is_invalid_applies_nothing(fed):
    node, f, ctl = fed
    before = ctl.risk_limits()
    with pytest.raises(ApiError) as e:
        ctl.update_risk_limits({"portfolio": {"max_gross_notional": 1.0},
                                "symbols": {"binance:BTCUSDT": {"price_band": -1}}})
    assert e.value.status == 400 and "price_band" in e.value.reason
    assert ctl.risk_limits() == before
    assert node.gate.limits.max_gross_notional == 500000
    o = node.exec.submit(limit_buy_at_touch(node, "t-3", lots=100))
    assert o.status != OrderStatus.DENIED


@pytest.mark.parametrize("body, words", [
    ({"portfolio": {"capacity": 3}}, "cannot be changed while running"),
    ({"portfolio": {"max_orders_per_sec": "fast"}}, "max_orders_per_sec"),
    ({"portfolio": {"nonsense": 1}}, "cannot be changed while running"),
    ({"symbols": {"binance:BTCUSDT": {"leverage": 2.0}}}, "fixed while running"),
    ({"symbols": {"binance:ETHUSDT": {"max_order_lots": 1}}}, "not a configured instrument"),
    ({"symbols": {"binance:BTCUSDT": {"max_order_lots": 1.5}}}, "an int >= 0"),
    ({"other": {}}, "expected an object"),
    ({}, "expected an object"),
])
def test_update_risk_limits_when_invalid_refuses_with_the_reason(fed, body, words):
    node, f, ctl = fed
    before = ctl.risk_limits()
    with pytest.raises(ApiError) as e:
        ctl.update_risk_limits(body)
    assert words in e.value.reason
    assert ctl.risk_limits() == before


def test_update_strategy_when_valid_changes_the_running_detector(fed):
    node, f, ctl = fed
    s = ctl.strategy("xarb")
    out = ctl.update_strategy("xarb", {"min_edge_bps": 7.5, "max_qty": 0.25})
    assert out["settings"]["min_edge_bps"] == 7.5
    assert s.det.min_edge_bps == 7.5 and s.det.max_qty == 0.25
    assert s.config["min_edge_bps"] == 7.5


@pytest.mark.parametrize("changes, words", [
    ({"min_edge_bps": -1}, "min_edge_bps must be a number >= 0"),
    ({"bogus": 1}, "unknown setting"),
    ({"venues": [["binance", "BTCUSDT"]]}, "need a restart"),
])
def test_update_strategy_when_invalid_refuses_and_changes_nothing(fed, changes, words):
    node, f, ctl = fed
    s = ctl.strategy("xarb")
    cfg, det = dict(s.config), (s.det.min_edge_bps, s.det.max_qty)
    with pytest.raises(ApiError) as e:
        ctl.update_strategy("xarb", {"max_qty": 0.1, **changes})
    assert words in e.value.reason
    assert s.config == cfg and (s.det.min_edge_bps, s.det.max_qty) == det


def test_update_strategy_when_unknown_id_is_404(fed):
    with pytest.raises(ApiError) as e:
        fed[2].update_strategy("nope", {"max_qty": 1})
    assert e.value.status == 404


def test_stop_strategy_when_frames_arrive_gives_it_no_callbacks_until_started(fed):
    node, f, ctl = fed
    s = ctl.strategy("xarb")
    ctl.stop_strategy("xarb")
    checks = s.counters.get("checks", 0)
    f.feed(2000)
    assert node.stats.book_updates > 0
    assert s.counters.get("checks", 0) == checks
    with pytest.raises(ApiError):
        ctl.stop_strategy("xarb")
    ctl.start_strategy("xarb")
    f.feed(2000)
    assert s.counters["checks"] > checks


def test_stop_strategy_when_it_has_open_orders_cancels_them(fed):
    node, f, ctl = fed
    inst = node.instruments[("binance", "BTCUSDT")]
    bid = node.books[("binance", "BTCUSDT")].best_bid()[0]
    from tradecore.core.orders import Order, OrderType, Side
    o = node.exec.submit(Order("rest-1", "binance", "BTCUSDT", Side.BUY, OrderType.LIMIT, 10,
                               price=inst.ticks(bid) - 500, strategy_id="xarb",
                               ts_created_ns=node.clock.time_ns()))
    f.feed(200)                                   # the paper venue acknowledges it
    assert o.status == OrderStatus.ACCEPTED
    out = ctl.stop_strategy("xarb")
    assert out["cancelled_orders"] == 1
    f.feed(200)
    assert o.status == OrderStatus.CANCELED


def test_kill_when_tripped_halts_and_denies_until_rearmed(fed):
    node, f, ctl = fed
    st = ctl.kill(flatten=False, reason="test")
    assert st["trading_state"] == "HALTED" and not st["kill_switch"]["armed"]
    o = node.exec.submit(limit_buy_at_touch(node, "k-1"))
    assert o.deny_reason == DenyReason.HALTED
    st = ctl.rearm("test done")
    assert st["trading_state"] == "ACTIVE" and node.gate.state == TradingState.ACTIVE
    with pytest.raises(ApiError) as e:
        ctl.rearm()
    assert e.value.status == 409


def test_kill_when_flatten_is_not_a_bool_refuses(fed):
    with pytest.raises(ApiError):
        fed[2].kill(flatten="yes")
    assert fed[0].gate.state == TradingState.ACTIVE


def test_orders_positions_fills_when_an_order_filled_list_them(fed):
    node, f, ctl = fed
    node.exec.submit(limit_buy_at_touch(node, "f-1", lots=10))
    f.feed(300)
    orders = ctl.orders()
    assert orders[0]["client_order_id"] == "f-1" and orders[0]["status"] == "FILLED"
    fills = ctl.fills()
    assert fills and fills[0]["client_order_id"] == "f-1" and fills[0]["qty_base"] > 0
    pos = {(p["venue"], p["symbol"]): p for p in ctl.positions()}
    assert pos[("binance", "BTCUSDT")]["lots"] == 10
    bal = {(b["venue"], b["asset"]) for b in ctl.balances()}
    assert ("binance", "USDT") in bal
    assert ctl.orders("filled")[0]["client_order_id"] == "f-1"
    with pytest.raises(ApiError):
        ctl.orders("weird")


def test_config_when_read_masks_secret_looking_keys(fed):
    node, f, ctl = fed
    node.cfg.raw.setdefault("run", {})["api_key"] = "AKIA-should-not-show"
    text = repr(ctl.config())
    assert "AKIA-should-not-show" not in text and "***" in text


@pytest.mark.parametrize("rate, accepted", [(0, True), (1e-9, True), (0.5, True), (1e9, True),
                                            (3.2e-65, False), (5e-10, False), (2e9, False)])
def test_rate_limits_when_published_schema_and_validator_agree(fed, rate, accepted):
    """The OpenAPI schema says exactly what the validator takes (a fuzzer found a schema-valid
    rate of 3.2e-65 refused with 400)."""
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema comes with schemathesis")
    from tradecore.api.openapi import PORTFOLIO_SCHEMA
    node, f, ctl = fed
    for name in ("max_orders_per_sec", "max_cancels_per_sec"):
        body = {"portfolio": {name: rate}}
        valid = jsonschema.Draft202012Validator(PORTFOLIO_SCHEMA).is_valid(body["portfolio"])
        assert valid is accepted
        if accepted:
            assert ctl.update_risk_limits(body)["portfolio"][name] == rate
        else:
            with pytest.raises(ApiError):
                ctl.update_risk_limits(body)
