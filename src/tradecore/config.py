"""The run configuration: one TOML file, every setting with a default and a documented meaning.

`load(path)` reads the file over the bundled default (src/tradecore/data/paper.toml, whose
comments document every key; a section the file names replaces the default's), checks every
key and value, and returns a frozen `NodeConfig`. A
wrong key or value stops the start with a `ConfigError` naming the key, the value and what was
expected; nothing is half-applied (freqtrade-style silent defaults for misspelled keys are the
trap this avoids). Secrets are never in the file: API keys come from the environment
(venues/credentials.py), and `redacted()` masks anything that looks like one before a config is
dumped into a report.

Relative paths in the file are resolved against the file's directory; `bundled:NAME` names a
file of the bundled samples (src/tradecore/data/samples).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE_DATA = Path(__file__).resolve().parent / "data"
SAMPLES = PACKAGE_DATA / "samples"
DEFAULT_CONFIG = PACKAGE_DATA / "paper.toml"

MODES = ("paper", "backtest", "live")
EXCHANGES = ("binance", "kraken", "coinbase", "okx")


class ConfigError(ValueError):
    """A bad configuration: names the key, the value and what was expected."""


def _fail(key: str, value: object, expected: str) -> None:
    raise ConfigError(f"config key {key!r} = {value!r}: expected {expected}")


def _check_keys(section: str, got: dict, allowed: set[str]) -> None:
    for k in got:
        if k not in allowed:
            _fail(f"{section}.{k}" if section else k, got[k],
                  f"one of the keys {sorted(allowed)} (unknown key)")


def _num(key: str, v: object, lo: float = 0.0) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < lo:
        _fail(key, v, f"a number >= {lo:g}")
    return float(v)


def _str(key: str, v: object, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(v, str) or not v or (choices and v not in choices):
        _fail(key, v, f"one of {list(choices)}" if choices else "a non-empty string")
    return v  # type: ignore[return-value]


@dataclass(frozen=True)
class FeedConfig:
    """One market-data source. `venue` is the name orders and instruments use (two feeds of
    one exchange need two names, e.g. binance and binance_usdm); `exchange` picks the
    normalizer; `capture` is the recording replayed in paper/backtest mode."""
    venue: str
    exchange: str
    symbols: tuple[str, ...]
    capture: Path | None = None
    candles: Path | None = None            # a candle CSV: a candle-based backtest feed
    store: Path | None = None              # a Parquet data store root (backtest)
    store_venue: str = ""                  # the venue name inside the store ("" = exchange)
    market: str = "spot"                   # Binance: spot | usdm | coinm (live feeds)
    ws_url: str = ""                       # live: endpoint override (e.g. the local simulator)
    rest_url: str = ""
    order_url: str = ""                    # live orders: the venue's order API override


@dataclass(frozen=True)
class InstrumentConfig:
    venue: str
    symbol: str
    tick: str
    lot: str
    base: str
    quote: str
    maker_fee: float
    taker_fee: float
    min_qty: str = "0"
    min_notional: str = "0"


@dataclass(frozen=True)
class StrategyConfig:
    id: str
    kind: str
    settings: dict[str, Any]


SWEEP_BACKENDS = ("process", "ray")


@dataclass(frozen=True)
class SweepConfig:
    """Where `tradecore backtest --sweep` runs its points (docs/backtest.md, Sweeps).
    `ray_address`: "" starts a private local Ray cluster for the sweep; "auto" joins the
    cluster started on this host with `ray start`; "ray://host:10001" is Ray Client to a remote
    head. `max_retries`: runs of a failed point after its first (then it is reported failed).
    `workers`: processes of the pool, or CPUs of a local Ray cluster (0 = CPU count)."""
    backend: str = "process"
    ray_address: str = ""
    max_retries: int = 1
    workers: int = 0


@dataclass(frozen=True)
class NodeConfig:
    mode: str = "paper"
    run_id: str = ""                       # empty: a timestamp
    report_dir: Path = Path("reports")
    quote: str = "USDT"                    # the account currency of equity and reports
    speed: float = 0.0                     # replay speed in paper mode: 0 = as fast as possible
    status_every_s: float = 1.0            # live status line period (0 = off)
    # paced paper and live: terminal orders are forgotten this long after their last event
    # (OrderManager.retire: the OMS would otherwise grow without bound); 0 = keep them all
    retain_orders_s: float = 600.0
    journal: Path | None = None            # None: a temporary journal per run
    bar_books: bool = False                # candle runs: one-level books from bars (model)
    feeds: tuple[FeedConfig, ...] = ()
    instruments: tuple[InstrumentConfig, ...] = ()
    balances: dict[str, float] = field(default_factory=dict)      # "venue:asset" -> amount
    latency_order_us: int = 0
    latency_ack_us: int = 0
    risk: dict[str, Any] = field(default_factory=dict)            # RiskLimits fields
    symbol_limits: dict[str, dict[str, Any]] = field(default_factory=dict)  # "venue:sym"
    strategies: tuple[StrategyConfig, ...] = ()
    live: "LiveConfig" = field(default_factory=lambda: LiveConfig())
    sweep: SweepConfig = SweepConfig()
    source: str = ""                        # where the config came from
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class LiveConfig:
    """`tradecore live` only. `unknown_orders`: what recovery does with open orders the venue
    has and the journal does not ("cancel" or "adopt"); `cancel_on_stop`: cancel our open
    orders when the process stops on purpose (a crash leaves them to the next start's
    reconciliation); `balances_from_venue`: the account's balances are read from the venue at
    start (the config's paper.balances are then ignored for that venue)."""
    unknown_orders: str = "cancel"
    cancel_on_stop: bool = True
    balances_from_venue: bool = True


_LIVE_KEYS = {"unknown_orders", "cancel_on_stop", "balances_from_venue"}
_RUN_KEYS = {"mode", "run_id", "report_dir", "quote", "speed", "status_every_s", "journal",
             "bar_books", "retain_orders_s"}
_TOP_KEYS = {"run", "feeds", "instruments", "paper", "risk", "strategies", "live", "sweep",
             "bus"}
_SWEEP_KEYS = {"backend", "ray_address", "max_retries", "workers"}
_FEED_KEYS = {"venue", "exchange", "symbols", "capture", "candles", "store", "store_venue",
              "market", "ws_url", "rest_url", "order_url"}
_INST_KEYS = {"tick", "lot", "base", "quote", "maker_fee", "taker_fee", "min_qty",
              "min_notional"}
_PAPER_KEYS = {"balances", "latency_order_us", "latency_ack_us"}
_STRAT_KEYS = {"id", "kind", "settings"}


def _path(base: Path, key: str, v: object) -> Path:
    if not isinstance(v, str) or not v:
        _fail(key, v, "a path (string)")
    if v.startswith("bundled:"):
        p = SAMPLES / v.split(":", 1)[1]
    else:
        p = Path(v)
        if not p.is_absolute():
            p = base / p
    return p


def _sweep(d: object) -> SweepConfig:
    if not isinstance(d, dict):
        _fail("sweep", d, "a table")
    _check_keys("sweep", d, _SWEEP_KEYS)
    backend = _str("sweep.backend", d.get("backend", "process"), SWEEP_BACKENDS)
    addr = d.get("ray_address", "")
    if not isinstance(addr, str) or (addr and addr != "auto" and ":" not in addr):
        _fail("sweep.ray_address", addr, '"" (a local cluster), "auto" or an address '
              '("ray://host:10001", "host:6379")')
    out = []
    for k in ("max_retries", "workers"):
        v = d.get(k, getattr(SweepConfig, k))
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            _fail(f"sweep.{k}", v, "an integer >= 0")
        out.append(v)
    return SweepConfig(backend, addr, out[0], out[1])


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse(data: dict[str, Any], base_dir: Path, source: str = "") -> NodeConfig:
    """Validate a config mapping (a parsed TOML document)."""
    _check_keys("", data, _TOP_KEYS)
    run = data.get("run", {})
    _check_keys("run", run, _RUN_KEYS)
    mode = _str("run.mode", run.get("mode", "paper"), MODES)
    feeds = []
    seen_venues: set[str] = set()
    for i, f in enumerate(data.get("feeds", [])):
        key = f"feeds[{i}]"
        if not isinstance(f, dict):
            _fail(key, f, "a table with venue, exchange, symbols")
        _check_keys(key, f, _FEED_KEYS)
        venue = _str(f"{key}.venue", f.get("venue"))
        syms = f.get("symbols")
        if not isinstance(syms, list) or not syms or not all(isinstance(s, str) and s for s in syms):
            _fail(f"{key}.symbols", syms, "a non-empty list of symbol strings")
        # one market-data connection per venue; candle files are one per (venue, symbol)
        uniq = (venue, syms[0]) if "candles" in f else venue
        if uniq in seen_venues or venue in seen_venues:
            _fail(f"{key}.venue", venue, "a venue name not used by another feed (candle feeds: "
                  "a (venue, symbol) not used by another)")
        seen_venues.add(uniq)
        cap = _path(base_dir, f"{key}.capture", f["capture"]) if "capture" in f else None
        bars = _path(base_dir, f"{key}.candles", f["candles"]) if "candles" in f else None
        if bars is not None:
            if mode != "backtest" or cap is not None or len(syms) != 1:
                _fail(f"{key}.candles", f["candles"], "a candle file only in backtest mode, "
                      "for a feed of exactly one symbol and no capture")
            if not bars.is_file():
                _fail(f"{key}.candles", f["candles"], f"an existing file ({bars} is missing)")
        store = _path(base_dir, f"{key}.store", f["store"]) if "store" in f else None
        if store is not None:
            if mode != "backtest" or cap is not None or bars is not None:
                _fail(f"{key}.store", f["store"], "a store only in backtest mode, instead of "
                      "capture/candles")
            if not store.is_dir():
                _fail(f"{key}.store", f["store"], f"an existing directory ({store} is missing)")
        elif bars is None and mode != "live" and cap is None:
            _fail(f"{key}.capture", None, f"a recording to replay in {mode} mode")
        if cap is not None and not cap.is_file():
            _fail(f"{key}.capture", f["capture"], f"an existing file ({cap} is missing)")
        exchange = _str(f"{key}.exchange", f.get("exchange"), EXCHANGES)
        market = _str(f"{key}.market", f.get("market", "spot"), ("spot", "usdm", "coinm"))
        for k in ("ws_url", "rest_url", "order_url"):
            if k in f and not (isinstance(f[k], str) and f[k].startswith(
                    ("ws://", "wss://", "http://", "https://"))):
                _fail(f"{key}.{k}", f[k], "a ws(s):// or http(s):// URL")
        feeds.append(FeedConfig(venue, exchange, tuple(syms), cap, bars, store,
                                str(f.get("store_venue") or exchange), market,
                                f.get("ws_url", ""), f.get("rest_url", ""),
                                f.get("order_url", "")))
    insts = []
    for name, d in data.get("instruments", {}).items():
        key = f"instruments.{name!r}"
        venue, sep, sym = name.partition(":")
        if not sep or not venue or not sym:
            _fail(key, name, "a key 'venue:symbol'")
        if not isinstance(d, dict):
            _fail(key, d, "a table")
        _check_keys(key, d, _INST_KEYS)
        for req in ("tick", "lot", "base", "quote"):
            _str(f"{key}.{req}", d.get(req))
        insts.append(InstrumentConfig(venue, sym, d["tick"], d["lot"], d["base"], d["quote"],
                                      _num(f"{key}.maker_fee", d.get("maker_fee", 0.0), -0.01),
                                      _num(f"{key}.taker_fee", d.get("taker_fee", 0.0)),
                                      str(d.get("min_qty", "0")), str(d.get("min_notional", "0"))))
    known = {(i.venue, i.symbol) for i in insts}
    for f in feeds:
        for s in f.symbols:
            if (f.venue, s) not in known:
                _fail(f"instruments.'{f.venue}:{s}'", None,
                      "the instrument (tick, lot, base, quote, fees) of every feed symbol")
    paper = data.get("paper", {})
    _check_keys("paper", paper, _PAPER_KEYS)
    balances = {}
    for k, v in paper.get("balances", {}).items():
        if ":" not in k:
            _fail(f"paper.balances.{k!r}", v, "a key 'venue:asset'")
        balances[k] = _num(f"paper.balances.{k!r}", v)
    risk = dict(data.get("risk", {}))
    symbol_limits = risk.pop("symbols", {})
    strategies = []
    ids: set[str] = set()
    for i, s in enumerate(data.get("strategies", [])):
        key = f"strategies[{i}]"
        if not isinstance(s, dict):
            _fail(key, s, "a table with id, kind, settings")
        _check_keys(key, s, _STRAT_KEYS)
        sid = _str(f"{key}.id", s.get("id"))
        if sid in ids:
            _fail(f"{key}.id", sid, "an id not used by another strategy")
        ids.add(sid)
        settings = s.get("settings", {})
        if not isinstance(settings, dict):
            _fail(f"{key}.settings", settings, "a table")
        strategies.append(StrategyConfig(sid, _str(f"{key}.kind", s.get("kind")), settings))
    journal = _path(base_dir, "run.journal", run["journal"]) if run.get("journal") else None
    lv = data.get("live", {})
    _check_keys("live", lv, _LIVE_KEYS)
    for k in ("cancel_on_stop", "balances_from_venue"):
        if k in lv and not isinstance(lv[k], bool):
            _fail(f"live.{k}", lv[k], "true or false")
    live = LiveConfig(_str("live.unknown_orders", lv.get("unknown_orders", "cancel"),
                           ("cancel", "adopt")),
                      lv.get("cancel_on_stop", True), lv.get("balances_from_venue", True))
    if mode == "live" and journal is None:
        _fail("run.journal", None, "a journal path in live mode (the orders and fills that "
              "recovery after a crash reads)")
    return NodeConfig(
        mode=mode, run_id=str(run.get("run_id", "")),
        report_dir=_path(Path.cwd(), "run.report_dir", run.get("report_dir", "reports")),
        quote=_str("run.quote", run.get("quote", "USDT")),
        speed=_num("run.speed", run.get("speed", 0.0)),
        status_every_s=_num("run.status_every_s", run.get("status_every_s", 1.0)),
        retain_orders_s=_retain(run.get("retain_orders_s", 600.0)),
        journal=journal, bar_books=bool(run.get("bar_books", False)), feeds=tuple(feeds), instruments=tuple(insts), balances=balances,
        latency_order_us=int(_num("paper.latency_order_us", paper.get("latency_order_us", 0))),
        latency_ack_us=int(_num("paper.latency_ack_us", paper.get("latency_ack_us", 0))),
        risk=risk, symbol_limits=symbol_limits, strategies=tuple(strategies), live=live,
        sweep=_sweep(data.get("sweep", {})), source=source,
        raw=data)


def _retain(v: Any) -> float:
    x = _num("run.retain_orders_s", v)
    if not 0 <= x < float("inf"):
        _fail("run.retain_orders_s", v, "seconds >= 0 (0 keeps every order)")
    return x


def _read(p: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {p} is not valid TOML: {e}") from None


def load(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> NodeConfig:
    """The bundled default, with a file's top-level sections replacing the default's sections
    of the same name ([run], [[feeds]], [instruments], [paper], [risk], [[strategies]],
    [sweep], [live]), then `overrides` merged key by key (the command line's flags).

    A file that lists its own [[feeds]] describes its own market, so nothing of the default's
    market is carried over: not its instruments, per-symbol risk limits, paper balances or
    strategies (a live config must never trade the bundled demo strategies because it left
    [[strategies]] out). The default's [run] and global [risk] limits still apply."""
    data = _read(DEFAULT_CONFIG)
    base = DEFAULT_CONFIG.parent
    source = str(DEFAULT_CONFIG)
    if path is not None:
        p = Path(path)
        user = _read(p)
        _check_keys("", user, _TOP_KEYS)
        if "feeds" in user:
            # relative capture paths of the user's feeds are the user's file's, so resolve
            # them now against that file's directory
            for f in user["feeds"]:
                for k in ("capture", "candles", "store"):
                    if isinstance(f, dict) and isinstance(f.get(k), str) and \
                            not f[k].startswith("bundled:"):
                        f[k] = str(_path(p.resolve().parent, f"feeds.{k}", f[k]))
            for k in ("instruments", "paper", "strategies"):
                data.pop(k, None)
            if "risk" in data:
                data["risk"] = {k: v for k, v in data["risk"].items() if k != "symbols"}
        data = {**data, **user}
        source = str(p)
    if overrides:
        data = _merge(data, overrides)
    return parse(data, base, source)
