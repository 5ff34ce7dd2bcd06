"""deploy/: the Prometheus rules and the Grafana dashboard query only metrics the node exposes."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _api_helpers import Feeder, make_node
from prometheus_client.parser import text_string_to_metric_families

from tradecore.api.metrics import attach

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the alert rules")
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NAME = re.compile(r"\btradecore_[a-z_]+")


@pytest.fixture(scope="module")
def exposed() -> set[str]:
    node = make_node()
    m = attach(node)
    Feeder(node).feed(300)
    m.on_breaker_trip("kill switch")
    m.prediction_counter("m", "v1")()
    names = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                "gauge": ("",)}
    for fam in text_string_to_metric_families(m.exposition().decode()):
        # a family with no series yet (no order sent) is still a metric a query may name
        names |= {fam.name + sfx for sfx in suffixes[fam.type]}
    return names


def _exprs_of_rules() -> list[str]:
    doc = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert all({"alert", "expr", "labels", "annotations"} <= set(r) for r in rules)
    return [r["expr"] for r in rules]


def _exprs_of_dashboard() -> list[str]:
    d = json.loads((DEPLOY / "grafana" / "tradecore.json").read_text())
    return [t["expr"] for p in d["panels"] for t in p["targets"]]


@pytest.mark.parametrize("source", [_exprs_of_rules, _exprs_of_dashboard],
                         ids=["alert rules", "grafana"])
def test_queries_when_read_name_only_exposed_metrics(source, exposed):
    used = {n for e in source() for n in NAME.findall(e)}
    assert used
    missing = sorted(n for n in used if n not in exposed)
    assert not missing, f"queried but not exposed: {missing}"


def test_alert_rules_when_read_cover_the_issue_conditions():
    text = " ".join(_exprs_of_rules())
    for metric in ("tradecore_breaker_trips_total", "tradecore_equity",
                   "tradecore_book_staleness_seconds", "tradecore_order_events_total",
                   "tradecore_orders_denied_total"):
        assert metric in text
