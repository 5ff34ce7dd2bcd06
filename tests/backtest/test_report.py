"""The written report: every plot present and decodable, nothing fetched from outside, JSON
round-trips, banners and notes where they belong.

No browser is installed on the test machines, so "opens with every plot drawn" is checked the way
a browser would need it: the page parses, each <img> is a data: URI whose PNG decodes fully
(Pillow) into a non-blank picture, and no element refers to anything outside the file."""
from __future__ import annotations

import base64
import dataclasses
import io
from html.parser import HTMLParser

import numpy as np
import orjson
import pytest
from PIL import Image

from tradecore.backtest import metrics as m
from tradecore.backtest.report import PLOTS, write_json, write_report
from tradecore.backtest.results import EquityCurve, Results, RunMeta, json_safe, summarize

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """Collects figures and their images, external references, and text by element id."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}          # figure id -> img src
        self.external: list[str] = []
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self._figure: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        for k, v in attrs:
            if k in ("src", "href", "data", "poster", "srcset", "action") and v and \
                    not v.startswith("data:"):
                self.external.append(f"<{tag} {k}={v[:80]}>")
        if tag == "figure":
            self._figure = a.get("id")
        elif tag == "img" and self._figure:
            self.figures[self._figure] = a.get("src", "")

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None

    def handle_data(self, data):
        self.text.append(data)


def _parse(path) -> _Page:
    p = _Page()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


def _decode_png(src: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    raw = base64.b64decode(src[len(prefix):], validate=True)
    assert raw[:8] == PNG_MAGIC and len(raw) > 10_000
    img = Image.open(io.BytesIO(raw))
    img.load()                                   # decodes every pixel, raises if truncated
    return img


def _assert_complete(paths, results: Results) -> _Page:
    page = _parse(paths["html"])
    assert list(page.figures) == list(PLOTS)
    for fid, src in page.figures.items():
        img = _decode_png(src)
        assert img.width >= 800 and img.height >= 150, (fid, img.size)
        px = np.asarray(img.convert("L"))
        assert px.std() > 5, f"{fid} looks blank"
    assert page.external == []
    assert not {"script", "link", "iframe", "object", "embed"} & set(page.tags)
    html_text = paths["html"].read_text(encoding="utf-8")
    assert "http://" not in html_text and "https://" not in html_text
    assert "@import" not in html_text and "url(" not in html_text
    assert orjson.loads(paths["json"].read_bytes()) == json_safe(summarize(results))
    return page


@pytest.mark.shared_data
def test_write_report_when_the_fixture_ran_on_real_candles(binance_run, tmp_path):
    paths = write_report(binance_run, tmp_path / "out")
    page = _assert_complete(paths, binance_run)
    text = " ".join(page.text)
    assert "candle-banner" in page.ids
    s = summarize(binance_run)
    assert ("fees-banner" in page.ids) == s["edge"]["eaten_by_fees"]
    for name in ("sma_6_24", "sma_12_48", "binance:BTCUSDT", "binance:ETHUSDT", "stop-loss",
                 "MAX_POSITION", "feed -> strategy"):
        assert name in text
    assert "abc123" not in paths["html"].read_text() and "s3cr3t" not in text
    assert b"s3cr3t" not in paths["json"].read_bytes()


def test_write_report_when_the_run_is_shorter_than_a_month(synthetic_run, tmp_path):
    paths = write_report(synthetic_run, tmp_path)
    page = _assert_complete(paths, synthetic_run)
    text = " ".join(page.text)
    assert "less than a calendar month" in text
    assert "2 month(s)" in text                      # 2024-01-20 .. 2024-02-08: two partial months


def test_write_report_when_not_candle_based_has_no_banner(synthetic_run, tmp_path):
    res = dataclasses.replace(synthetic_run,
                              meta=dataclasses.replace(synthetic_run.meta, candle_based=False))
    page = _parse(write_report(res, tmp_path)["html"])
    assert "candle-banner" not in page.ids


def test_write_report_when_fees_ate_the_edge_says_so(synthetic_run, tmp_path):
    # every round trip made money before fees (gross = |pnl| + 0.5 > 0) and lost 0.5 after them
    trades = [dataclasses.replace(t, pnl=-0.5, fees=abs(t.pnl) + 1.0) for t in synthetic_run.trades]
    res = dataclasses.replace(synthetic_run, trades=trades, fills=[])
    page = _parse(write_report(res, tmp_path)["html"])
    assert "fees-banner" in page.ids
    assert "did not survive fees" in " ".join(page.text)


def test_write_report_when_nothing_traded_explains_the_missing_plots(tmp_path):
    ts = np.arange(0, 3 * m.NS_PER_DAY, m.NS_PER_DAY // 4, dtype=np.int64)
    res = Results(RunMeta("idle", "paper", candle_based=False),
                  EquityCurve(ts, np.linspace(1000.0, 990.0, ts.size)))
    paths = write_report(res, tmp_path)
    page = _parse(paths["html"])
    assert list(page.figures) == ["equity", "drawdown", "monthly"]
    for src in page.figures.values():
        _decode_png(src)
    text = " ".join(page.text)
    assert "no trade markers" in text and "No latency samples" in text
    assert "denied no order" in text
    doc = orjson.loads(paths["json"].read_bytes())
    assert doc["trades"]["trades"] == 0 and doc["trades"]["profit_factor"] is None


def test_write_json_when_only_the_machine_readable_summary_is_asked_for(synthetic_run, tmp_path):
    p = write_json(synthetic_run, tmp_path / "deep" / "run.json")
    doc = orjson.loads(p.read_bytes())
    assert doc == json_safe(summarize(synthetic_run))
    assert doc["trades"]["trades"] == len(synthetic_run.trades)
