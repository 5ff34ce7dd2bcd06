"""Node behaviour that needs no server: a garbage message is refused with a clear error,
counted and dropped, and changes nothing; the [bus] table is checked like every config key."""
from __future__ import annotations

import logging

import pytest

from tradecore.bus.codec import BookMsg
from tradecore.bus.execution_node import ExecutionNode
from tradecore.bus.settings import bus_settings
from tradecore.bus.strategy_node import StrategyNode
from tradecore.config import ConfigError, load

NODES = {"enabled": True, "nodes": {"a": {"strategies": ["xarb"]},
                                    "b": {"strategies": ["basis"]}}}


def _cfg(bus: dict):
    return load(overrides={"bus": bus})


def test_strategy_node_counts_and_drops_a_message_when_it_is_garbage(caplog):
    cfg = _cfg(NODES)
    node = StrategyNode(cfg, bus_settings(cfg), "b")
    before = {k: (st.bseq, st.book) for k, st in node.mirror.books.items()}
    with caplog.at_level(logging.ERROR, "tradecore.bus.strategy"):
        assert node._take(b"TC\x01\x01garbage") is None
        assert node._take(b"\xff" * 40) is None
    assert node.problems["bus:bad_message"] == 2
    assert "book header cut short" in caplog.text and "magic" in caplog.text
    assert {k: (st.bseq, st.book) for k, st in node.mirror.books.items()} == before
    assert node.orders == {} and node.out == []


def test_execution_node_counts_and_drops_a_message_when_it_is_garbage(caplog):
    cfg = _cfg(NODES)
    node = ExecutionNode(cfg, bus_settings(cfg))
    with caplog.at_level(logging.ERROR, "tradecore.bus.execution"):
        assert node._take(b"TC\x01\x0a" + b"\x00" * 3) is None
    assert node.problems["bus:bad_message"] == 1
    assert "submit header cut short" in caplog.text
    assert node.commands == 0 and node.node.exec.oms.orders == {}


def test_execution_node_hands_book_deltas_to_the_paper_venue_when_applied():
    import numpy as np
    cfg = _cfg(NODES)
    node = ExecutionNode(cfg, bus_settings(cfg))
    lv = np.array([[6_000_000, 1000]], dtype=np.int64)
    m = BookMsg(True, "binance", "BTCUSDT", 1, 1, 5, 5, 9, True, "0.01", "0.00001", lv,
                np.array([[6_000_001, 1000]], dtype=np.int64))
    assert node._md(m) == {"a", "b"}                    # both strategy nodes read this book
    assert node.node.books[("binance", "BTCUSDT")].best_ticks(0) == (6_000_000, 1000)
    assert node._md(m) == set()                         # the same again: dropped, no step
    assert node.node.stats.book_updates == 1


@pytest.mark.parametrize("bus, says", [
    ({"enabled": "yes"}, "bus.enabled"),
    ({"url": "http://x"}, "nats://"),
    ({"colour": 1}, "unknown key"),
    ({"account": "a.b"}, "subject token"),
    ({"nodes": {"a": {"strategies": ["nope"]}}}, "one of \\[\\[strategies\\]\\]"),
    ({"nodes": {"a": {"strategies": ["xarb"]}, "b": {"strategies": ["xarb"]}}},
     "already on node 'a'"),
    ({"snapshot_every": 0}, "integer >= 1"),
    ({"nodes": 3}, "tables \\[bus.nodes.<name>\\]"),
    ({"nodes": {"a": ["xarb"]}}, "one key, strategies"),
])
def test_bus_settings_raise_naming_the_key_when_a_value_is_wrong(bus, says):
    with pytest.raises(ConfigError, match=says):
        bus_settings(_cfg(bus))


def test_bus_settings_are_off_when_the_config_has_no_bus_table():
    s = bus_settings(load())
    assert not s.enabled and s.nodes == {}


def test_strategy_node_refuses_to_start_when_its_name_is_not_configured():
    cfg = _cfg(NODES)
    with pytest.raises(ConfigError, match="'c' is not in \\[bus.nodes\\]"):
        StrategyNode(cfg, bus_settings(cfg), "c")


def _pair(bus=NODES):
    cfg = _cfg(bus)
    bc = bus_settings(cfg)
    return ExecutionNode(cfg, bc), StrategyNode(cfg, bc, "b")


def _deliver(src_out: list, handle) -> int:
    """Decode what one node queued for the bus and hand it to the other."""
    from tradecore.bus.codec import decode
    n = 0
    for _subject, data, _id in src_out:
        handle(decode(data))
        n += 1
    src_out.clear()
    return n


def test_order_round_trip_updates_the_strategy_nodes_order_and_position_when_filled():
    import asyncio

    import numpy as np

    from tradecore.core.orders import OrderStatus, OrderType, Side, TimeInForce
    ex, st = _pair()
    book = BookMsg(True, "binance", "BTCUSDT", 1, 1, 10, 10, 1, True, "0.01", "0.00001",
                   np.array([[6_000_000, 100_000]], dtype=np.int64),
                   np.array([[6_000_001, 100_000]], dtype=np.int64))
    ex._md(book)
    st._md(book, deliver=False)
    s = st.by_id["basis"]
    o = s.submit(s.order("binance", "BTCUSDT", Side.BUY, 1000, type=OrderType.LIMIT,
                         price=6_000_001, tif=TimeInForce.IOC))
    assert o.status is OrderStatus.SUBMITTED and s.ctx.open_orders("basis") == [o]
    # the command crosses to the execution node
    assert _deliver(st.out, ex._apply) == 1
    assert ex.commands == 1
    # the paper venue answers after its latency: ack and fill, as events back
    asyncio.run(ex._advance(10 + 10_000_000, 2))
    got = []
    assert _deliver(ex.out, lambda m: (got.append(m), st._event(m))) >= 2
    assert [m.event.status for m in got][-1] is OrderStatus.FILLED
    assert o.status is OrderStatus.FILLED and o.filled_qty == 1000
    assert s.ctx.open_orders("basis") == []
    assert st.portfolio.lots("binance", "BTCUSDT") == 1000
    assert st.portfolio.lots("binance", "BTCUSDT") == ex.node.exec.portfolio.lots(
        "binance", "BTCUSDT")
    assert st.portfolio.balance("binance", "USDT") == ex.node.exec.portfolio.balance(
        "binance", "USDT")
    assert st.fills and st.fills[0][4] == 1000
    # the same events again (a redelivery): applied once
    before = (o.filled_qty, st.portfolio.lots("binance", "BTCUSDT"), len(st.fills))
    for m in got:
        st._event(m)
    assert (o.filled_qty, st.portfolio.lots("binance", "BTCUSDT"), len(st.fills)) == before
    assert st.problems["bus:duplicate_event"] == len(got)


def test_strategy_node_sees_the_trading_state_when_the_execution_node_halts():
    from tradecore.core.orders import TradingState
    ex, st = _pair()
    ex.node.gate.set_state(TradingState.HALTED, "test")
    ex._risk_check()
    assert _deliver(ex.out, st._risk) == 1
    assert st.by_id["basis"].ctx.trading_state() is TradingState.HALTED


def test_node_command_refuses_to_start_when_the_config_has_no_enabled_bus(tmp_path, capsys):
    from tradecore.cli import main
    cfg = tmp_path / "run.toml"
    cfg.write_text("[bus]\nenabled = false\n")
    with pytest.raises(SystemExit, match="enabled = true"):
        main(["node", "feed", "--config", str(cfg)])
    cfg.write_text("[bus]\nenabled = true\nnodes = 3\n")
    assert main(["node", "execution", "--config", str(cfg)]) == 2
    assert "'bus.nodes' = 3" in capsys.readouterr().err


def test_node_command_requires_a_name_when_the_role_is_strategy(tmp_path):
    from tradecore.cli import main
    cfg = tmp_path / "run.toml"
    cfg.write_text("[bus]\nenabled = true\n")
    with pytest.raises(SystemExit, match="--name"):
        main(["node", "strategy", "--config", str(cfg)])


class _Spy:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_book_stale(self, venue, symbol, reason) -> None:
        self.calls.append(("stale", venue, symbol, reason))

    def on_book(self, venue, symbol, book) -> None:
        self.calls.append(("book", venue, symbol, book.valid))


def _two_books(st):
    import numpy as np
    for i, (v, tick, lot) in enumerate((("binance", "0.01", "0.00001"),
                                        ("binance_usdm", "0.1", "0.001"))):
        st._md(BookMsg(True, v, "BTCUSDT", i + 1, 1, 5, 5, 1, True, tick, lot,
                       np.array([[600_000, 10]], dtype=np.int64),
                       np.array([[600_001, 10]], dtype=np.int64)), deliver=False)


def test_strategy_node_marks_books_stale_and_stops_calling_strategies_when_nats_is_lost():
    import numpy as np
    cfg = _cfg(dict(NODES, lockstep=False))
    st = StrategyNode(cfg, bus_settings(cfg), "b")
    _two_books(st)
    spy = _Spy()
    for key in list(st.book_subs):
        st.book_subs[key].append(spy)
    st._bus_down()
    assert sorted(c[1] for c in spy.calls) == ["binance", "binance_usdm"]
    assert all(c[0] == "stale" and c[3] == "bus_disconnected" for c in spy.calls)
    assert not any(s.book.valid for s in st.mirror.books.values())
    st._bus_up()                         # free-running: still stale until fresh data
    assert not st.mirror.book(("binance", "BTCUSDT")).valid
    spy.calls.clear()
    st._md(BookMsg(False, "binance", "BTCUSDT", 3, 2, 6, 6, 2, True, "0.01", "0.00001",
                   np.array([[600_000, 11]], dtype=np.int64), np.zeros((0, 2), np.int64)),
           deliver=True)
    assert spy.calls == [("book", "binance", "BTCUSDT", True)]


def test_strategy_node_restores_its_books_after_a_reconnect_when_in_lockstep():
    cfg = _cfg(dict(NODES, lockstep=True))    # nothing moved while the server was away
    st = StrategyNode(cfg, bus_settings(cfg), "b")
    _two_books(st)
    spy = _Spy()
    st.book_subs[("binance", "BTCUSDT")].append(spy)
    st._bus_down()
    assert not st.mirror.book(("binance", "BTCUSDT")).valid and spy.calls == []
    st._bus_up()
    assert all(s.book.valid for s in st.mirror.books.values())
