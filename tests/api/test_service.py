"""Running with the API: paper --serve keeps serving after the replay; live refuses to start
without confirmation and keys."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest
from _api_helpers import make_node, restore_logging, run  # noqa: F401  (fixture)

from tradecore.api.service import LIVE_CONFIRM_FLAG, live_preflight, serve_replay
from tradecore.cli import main


def test_serve_replay_when_the_replay_ends_keeps_serving_until_stopped():
    async def go():
        node = make_node()
        stop = asyncio.Event()
        box = {}
        task = asyncio.get_running_loop().create_task(serve_replay(
            node, 0, host="127.0.0.1", port=0, stop=stop,
            started=lambda s: box.setdefault("s", s)))
        while "s" not in box:
            await asyncio.sleep(0.01)
        server = box["s"]
        async with aiohttp.ClientSession() as s:
            while server.phase != "finished":
                async with s.get(server.url + "/health") as r:     # answers during the replay
                    assert r.status == 200
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
            async with s.get(server.url + "/api/summary") as r:
                summary = await r.json()
            alive = not task.done()
        stop.set()
        await asyncio.wait_for(task, 5)
        return summary, alive, node
    summary, alive, node = run(go())
    assert alive
    assert summary["messages"] == node.stats.messages > 60_000


def test_live_preflight_when_nothing_given_names_everything_missing():
    missing = live_preflight(["binance", "binance_usdm"], confirmed=False, env={},
                             config_mode="paper")
    text = "\n".join(missing)
    assert LIVE_CONFIRM_FLAG in text and "run.mode" in text
    assert "TRADECORE_BINANCE_API_KEY" in text and "TRADECORE_BINANCE_USDM_API_KEY" in text


def test_live_preflight_when_confirmed_with_keys_passes_and_never_shows_values():
    env = {"TRADECORE_BINANCE_API_KEY": "k" * 20, "TRADECORE_BINANCE_API_SECRET": "s" * 30,
           "TRADECORE_LIVE_CONFIRM": "yes"}
    assert live_preflight(["binance"], confirmed=False, env=env) == []
    half = {"TRADECORE_BINANCE_API_KEY": "k" * 20}
    missing = live_preflight(["binance"], confirmed=True, env=half)
    assert len(missing) == 1 and "API_SECRET" in missing[0] and "k" * 20 not in missing[0]


def test_cli_live_when_unconfirmed_refuses_and_names_what_is_missing(capsys, monkeypatch,
                                                                   restore_logging):
    for k in ("TRADECORE_BINANCE_API_KEY", "TRADECORE_BINANCE_API_SECRET",
              "TRADECORE_BINANCE_CREDENTIALS_FILE", "TRADECORE_LIVE_CONFIRM"):
        monkeypatch.delenv(k, raising=False)
    from tradecore.config import DEFAULT_CONFIG
    rc = main(["live", "--config", str(DEFAULT_CONFIG)])
    err = capsys.readouterr().err
    assert rc == 2 and "refusing to start" in err
    assert LIVE_CONFIRM_FLAG in err and "TRADECORE_BINANCE_API_KEY" in err


def test_cli_paper_when_serve_on_a_public_address_without_token_refuses(capsys, monkeypatch,
                                                                      restore_logging):
    monkeypatch.delenv("TRADECORE_API_TOKEN", raising=False)
    rc = main(["paper", "--serve", "--host", "0.0.0.0", "--port", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "TRADECORE_API_TOKEN" in err


@pytest.mark.parametrize("argv", [["paper", "--serve", "--port", "9"], ["serve", "--port", "9"]])
def test_cli_when_serve_flags_given_parses_them(argv):
    from tradecore.cli import build_parser
    a = build_parser().parse_args(argv)
    assert a.host == "127.0.0.1" and a.port == 9
