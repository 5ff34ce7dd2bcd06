"""Logging: JSON lines, per-component levels, no formatting below the level."""
from __future__ import annotations

import io
import logging

import orjson
import pytest

from _api_helpers import restore_logging  # noqa: F401  (fixture)

from tradecore.api.logging import configure, parse_levels


@pytest.fixture(autouse=True)
def _restore(restore_logging):
    yield


def test_json_when_enabled_writes_one_object_per_line_with_extras():
    out = io.StringIO()
    configure(json_lines=True, stream=out, threaded=False, levels=["INFO"])
    logging.getLogger("tradecore.api").info("order %s sent", "abc", extra={"venue": "binance"})
    rec = orjson.loads(out.getvalue().strip())
    assert rec["msg"] == "order abc sent" and rec["level"] == "INFO"
    assert rec["logger"] == "tradecore.api" and rec["venue"] == "binance"
    assert rec["ts"].endswith("Z")


def test_levels_when_per_component_filter_each_component():
    out = io.StringIO()
    configure(stream=out, threaded=False, levels=["WARNING", "tradecore.api=DEBUG"])
    logging.getLogger("tradecore.api.stream").debug("api detail")
    logging.getLogger("tradecore.risk").info("risk chatter")
    logging.getLogger("tradecore.risk").warning("risk warning")
    text = out.getvalue()
    assert "api detail" in text and "risk warning" in text and "risk chatter" not in text


def test_record_when_below_level_is_never_formatted():
    class Costly:
        calls = 0

        def __str__(self) -> str:
            Costly.calls += 1
            return "costly"
    configure(stream=io.StringIO(), threaded=False, levels=["WARNING"])
    for _ in range(100):
        logging.getLogger("tradecore.engine").info("frame %s", Costly())
    assert Costly.calls == 0


def test_threaded_when_configured_writes_from_the_listener():
    out = io.StringIO()
    configure(stream=out, levels=["INFO"], json_lines=True)
    logging.getLogger("tradecore.x").warning("hello %d", 5)
    from tradecore.api import logging as tl
    tl._stop()                                  # flushes the queue
    assert orjson.loads(out.getvalue().strip())["msg"] == "hello 5"


@pytest.mark.parametrize("bad", ["LOUD", "tradecore.api=", "=INFO"])
def test_parse_levels_when_invalid_refuses_naming_the_choices(bad):
    with pytest.raises(ValueError) as e:
        parse_levels([bad])
    assert "log level" in str(e.value)
