"""The run configuration: the bundled default loads; every bad key or value is refused with
the key, the value and what was expected."""
from __future__ import annotations

import pytest

from tradecore.config import DEFAULT_CONFIG, ConfigError, load


def test_load_gives_the_bundled_default_when_no_file_is_given():
    cfg = load()
    assert cfg.mode == "paper" and cfg.source == str(DEFAULT_CONFIG)
    assert [f.venue for f in cfg.feeds] == ["binance", "binance_usdm"]
    assert all(f.capture is not None and f.capture.is_file() for f in cfg.feeds)
    assert {(i.venue, i.symbol) for i in cfg.instruments} == {("binance", "BTCUSDT"),
                                                              ("binance_usdm", "BTCUSDT")}
    assert cfg.strategies[0].kind == "cross_exchange"
    assert cfg.retain_orders_s == 600.0
    assert load(None, {"run": {"retain_orders_s": 0}}).retain_orders_s == 0.0


@pytest.mark.parametrize("override, key, expected", [
    ({"run": {"mdoe": "paper"}}, "run.mdoe", "unknown key"),
    ({"run": {"mode": "dream"}}, "run.mode", "one of"),
    ({"run": {"speed": -1}}, "run.speed", ">= 0"),
    ({"run": {"retain_orders_s": -5}}, "run.retain_orders_s", ">= 0"),
    ({"run": {"retain_orders_s": float("inf")}}, "run.retain_orders_s", "0 keeps every order"),
    ({"run": {"retain_orders_s": "10m"}}, "run.retain_orders_s", "a number"),
    ({"paper": {"balances": {"USDT": 5}}}, "paper.balances", "venue:asset"),
    ({"feeds": [{"venue": "x", "exchange": "nyse", "symbols": ["A"], "capture": "bundled:x"}]},
     "feeds[0].capture", "existing file"),
    ({"feeds": [{"venue": "x", "exchange": "binance", "symbols": []}]},
     "feeds[0].symbols", "non-empty list"),
    ({"strategies": [{"id": "a", "kind": "k", "settings": 3}]}, "strategies[0].settings",
     "a table"),
    ({"instruments": {"binance:BTCUSDT": {"tick": "0.01", "lot": "1", "base": "B",
                                          "quote": "Q", "taker_fee": -1}}},
     "taker_fee", ">= 0"),
])
def test_load_refuses_a_bad_key_or_value_naming_it(override, key, expected):
    with pytest.raises(ConfigError) as e:
        load(None, override)
    assert key in str(e.value) and expected in str(e.value)


def test_load_refuses_a_feed_symbol_without_an_instrument(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[[feeds]]\nvenue = "v"\nexchange = "binance"\nsymbols = ["X"]\n'
                 'capture = "bundled:hbt_spot_btcusdt_20240808.gz"\n')
    with pytest.raises(ConfigError, match="instruments.'v:X'"):
        load(f)


def test_load_reports_a_missing_or_broken_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(bad)


def test_a_file_replaces_only_the_sections_it_names(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[run]\nmode = "backtest"\nreport_dir = "%s"\n\n[risk]\nmax_orders_per_sec = 5\n'
                 % (tmp_path / "out"))
    cfg = load(f)
    assert cfg.mode == "backtest" and cfg.report_dir == tmp_path / "out"
    assert cfg.risk == {"max_orders_per_sec": 5}
    assert [s.id for s in cfg.strategies] == ["xarb", "basis"]   # the default's
    assert cfg.source == str(f)
