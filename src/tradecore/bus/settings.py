"""The `[bus]` table of the run configuration (default: off, and the node runs in one process
exactly as before).

    [bus]
    enabled = true
    url = "nats://127.0.0.1:4222"
    account = "main"            # order commands/events subjects; one execution node per account
    lockstep = true             # deterministic replay (docs/distributed.md); false = free-running
    fresh = true                # the feed node empties the streams before a replay
    snapshot_every = 500        # a full book on tradecore.snap.* every N deltas of that book
    reconnect_wait_s = 0.2
    record_dir = "store"        # feed node, live: also record levels and trades to this
                                # Parquet store (as `tradecore record`); "" = do not record

    [bus.nodes.a]               # strategy nodes: which of [[strategies]] each one runs
    strategies = ["xarb"]
    [bus.nodes.b]
    strategies = ["basis"]

A strategy not placed on any node runs nowhere (the node list is checked against
[[strategies]]: unknown or twice-placed ids stop the start).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tradecore.bus import subjects
from tradecore.config import ConfigError, NodeConfig

_KEYS = {"enabled", "url", "account", "lockstep", "fresh", "snapshot_every",
         "reconnect_wait_s", "record_dir", "nodes"}


@dataclass(frozen=True)
class BusSettings:
    enabled: bool = False
    url: str = "nats://127.0.0.1:4222"
    account: str = "main"
    lockstep: bool = False
    fresh: bool = False
    snapshot_every: int = 500
    reconnect_wait_s: float = 0.2
    nodes: dict[str, tuple[str, ...]] = field(default_factory=dict)   # node -> strategy ids
    record_dir: str = ""

    def node_of(self, strategy_id: str) -> str | None:
        for n, ids in self.nodes.items():
            if strategy_id in ids:
                return n
        return None


def _bad(key: str, v: object, expected: str) -> ConfigError:
    return ConfigError(f"config key 'bus.{key}' = {v!r}: expected {expected}")


def bus_settings(cfg: NodeConfig) -> BusSettings:
    raw = cfg.raw.get("bus", {})
    if not isinstance(raw, dict):
        raise _bad("", raw, "a table")
    for k in raw:
        if k not in _KEYS:
            raise _bad(k, raw[k], f"one of the keys {sorted(_KEYS)} (unknown key)")
    out: dict = {}
    for k in ("enabled", "lockstep", "fresh"):
        if k in raw:
            if not isinstance(raw[k], bool):
                raise _bad(k, raw[k], "true or false")
            out[k] = raw[k]
    if "url" in raw:
        if not isinstance(raw["url"], str) or not raw["url"].startswith(("nats://", "tls://")):
            raise _bad("url", raw["url"], "a nats:// or tls:// URL")
        out["url"] = raw["url"]
    if "account" in raw:
        try:
            out["account"] = subjects.token("account", raw["account"])
        except ValueError as e:
            raise _bad("account", raw["account"], str(e)) from None
    if "snapshot_every" in raw:
        v = raw["snapshot_every"]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise _bad("snapshot_every", v, "an integer >= 1")
        out["snapshot_every"] = v
    if "reconnect_wait_s" in raw:
        v = raw["reconnect_wait_s"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise _bad("reconnect_wait_s", v, "a number > 0")
        out["reconnect_wait_s"] = float(v)
    if "record_dir" in raw:
        if not isinstance(raw["record_dir"], str):
            raise _bad("record_dir", raw["record_dir"], "a directory path (string; \"\" = off)")
        out["record_dir"] = raw["record_dir"]
    known = {s.id for s in cfg.strategies}
    placed: dict[str, str] = {}
    nodes: dict[str, tuple[str, ...]] = {}
    if not isinstance(raw.get("nodes", {}), dict):
        raise _bad("nodes", raw["nodes"], "tables [bus.nodes.<name>] with strategies = [ids]")
    for name, t in raw.get("nodes", {}).items():
        try:
            subjects.token("node", name)
        except ValueError as e:
            raise _bad(f"nodes.{name}", t, str(e)) from None
        ids = t.get("strategies") if isinstance(t, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids) \
                or set(t) != {"strategies"}:
            raise _bad(f"nodes.{name}", t, "a table with one key, strategies = [ids]")
        for i in ids:
            if i not in known:
                raise _bad(f"nodes.{name}.strategies", i,
                           f"the id of one of [[strategies]] {sorted(known)}")
            if i in placed:
                raise _bad(f"nodes.{name}.strategies", i, f"an id not already on node "
                                                           f"{placed[i]!r}")
            placed[i] = name
        nodes[name] = tuple(ids)
    out["nodes"] = nodes
    return BusSettings(**out)
