"""What a run hands to its report, and the summary (every metric) computed from it.

A backtest, a paper run and a live run all fill the same `Results`, so their reports compare.
The data model is deliberately plain (floats in quote currency, base-unit quantities, int64 ns)
rather than ticks and lots: one report spans several instruments, and converting at the boundary
(`FillRecord.from_core`) keeps the report free of instrument lookups.

Conventions (docs/reports.md has the full list):
* `RoundTrip.pnl` is net of fees; `gross_pnl = pnl + fees`. A position still open when the run
  ends is closed by the engine as a round trip with exit reason "end of run" so it is counted.
* Return metrics use per-period returns of the total equity curve, by default UTC daily returns
  with 365 periods a year (`RunMeta.returns_period_ns`, `RunMeta.periods_per_year`).
* JSON rule: a metric that is undefined or infinite (nan, +-inf: e.g. Sharpe of a flat curve,
  profit factor without a losing trade) is written as null; counts beside it say why.
* Secrets: `summarize` runs the config through `redact` again (idempotent), so a report never
  carries a key, secret, token, password or passphrase even when a caller forgot.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import orjson

from tradecore.backtest import metrics as m
from tradecore.core.jsonsafe import json_safe
from tradecore.core.orders import DenyReason, Fill, Order

__all__ = ["RoundTrip", "FillRecord", "Denial", "PriceSeries", "EquityCurve", "RunMeta",
           "Results", "summarize", "redact", "json_safe", "dumps", "REDACTED", "SECRET_WORDS",
           "END_OF_RUN"]

REDACTED = "***"
SECRET_WORDS = ("key", "secret", "token", "password", "passphrase")
END_OF_RUN = "end of run"


# --------------------------------------------------------------------------- the data model

@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One position from open to flat (or one leg of a strategy's position, as it reports it)."""
    strategy: str
    venue: str
    symbol: str
    side: int                    # +1 long, -1 short
    qty: float                   # base units
    entry_ts_ns: int
    entry_price: float           # quote per base unit (average over the entry fills)
    exit_ts_ns: int
    exit_price: float
    pnl: float                   # quote currency, net of fees
    fees: float                  # quote currency, entry and exit
    exit_reason: str             # "signal", "stop-loss", "take-profit", "end of run", ...

    def __post_init__(self) -> None:
        if self.side not in (1, -1):
            raise ValueError(f"RoundTrip {self.venue}:{self.symbol}: side must be +1 (long) or "
                             f"-1 (short), got {self.side!r}")
        if self.exit_ts_ns < self.entry_ts_ns:
            raise ValueError(f"RoundTrip {self.venue}:{self.symbol}: exit_ts_ns "
                             f"{self.exit_ts_ns} is before entry_ts_ns {self.entry_ts_ns}")
        if not self.qty > 0:
            raise ValueError(f"RoundTrip {self.venue}:{self.symbol}: qty must be > 0, "
                             f"got {self.qty!r}")

    @property
    def gross_pnl(self) -> float:
        return self.pnl + self.fees

    @property
    def market(self) -> str:
        return f"{self.venue}:{self.symbol}"


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One execution, in report units. Turnover and fees paid are summed from these."""
    ts_ns: int
    strategy: str
    venue: str
    symbol: str
    side: int                    # +1 buy, -1 sell
    qty: float                   # base units
    price: float                 # quote per base unit
    fee: float                   # quote currency (negative: rebate)
    liquidity: str = "taker"

    @property
    def notional(self) -> float:
        return abs(self.qty * self.price)

    @classmethod
    def from_core(cls, fill: Fill, instrument, strategy: str) -> "FillRecord":
        """Convert an engine `Fill` (ticks, lots) with its `core.instrument.Instrument`."""
        if (fill.venue, fill.symbol) != instrument.key:
            raise ValueError(f"fill {fill.trade_id} is for {fill.venue}:{fill.symbol}, "
                             f"instrument is {instrument.key}")
        return cls(fill.ts_ns, strategy, fill.venue, fill.symbol, int(fill.side),
                   instrument.qty(fill.qty), instrument.price(fill.price), float(fill.fee),
                   fill.liquidity)


@dataclass(frozen=True, slots=True)
class Denial:
    """An order the risk gate refused (it never left the process)."""
    ts_ns: int
    strategy: str
    venue: str
    symbol: str
    reason: str                  # a DenyReason name, e.g. "MAX_POSITION"
    detail: str = ""

    @classmethod
    def from_order(cls, order: Order) -> "Denial":
        if order.deny_reason == DenyReason.NONE:
            raise ValueError(f"order {order.client_order_id} has no deny reason")
        return cls(order.ts_last_ns or order.ts_created_ns, order.strategy_id, order.venue,
                   order.symbol, DenyReason(order.deny_reason).name, order.reason_text)


def _int_ts(a, what: str) -> np.ndarray:
    t = np.asarray(a)
    if t.ndim != 1 or (t.size and not np.issubdtype(t.dtype, np.integer)):
        raise ValueError(f"{what}: expected a 1-d array of int64 ns, got {t.dtype} {t.shape}")
    t = t.astype(np.int64)
    if t.size > 1 and np.any(np.diff(t) < 0):
        i = int(np.flatnonzero(np.diff(t) < 0)[0]) + 1
        raise ValueError(f"{what}: timestamps must not decrease (index {i})")
    return t


@dataclass(frozen=True)
class PriceSeries:
    """A market's price over the run, for drawing the trades on it (mid, close or last)."""
    venue: str
    symbol: str
    ts_ns: np.ndarray
    price: np.ndarray

    def __post_init__(self) -> None:
        t = _int_ts(self.ts_ns, f"PriceSeries {self.venue}:{self.symbol} ts_ns")
        p = np.asarray(self.price, dtype=np.float64)
        if p.shape != t.shape:
            raise ValueError(f"PriceSeries {self.venue}:{self.symbol}: {t.size} timestamps but "
                             f"price has shape {p.shape}")
        object.__setattr__(self, "ts_ns", t)
        object.__setattr__(self, "price", p)

    @property
    def market(self) -> str:
        return f"{self.venue}:{self.symbol}"


@dataclass(frozen=True)
class EquityCurve:
    """Total account equity (quote currency, marked to market) sampled at int64 ns times."""
    ts_ns: np.ndarray
    equity: np.ndarray

    def __post_init__(self) -> None:
        t = _int_ts(self.ts_ns, "EquityCurve ts_ns")
        e = np.asarray(self.equity, dtype=np.float64)
        if e.shape != t.shape:
            raise ValueError(f"EquityCurve: {t.size} timestamps but equity has shape {e.shape}")
        if e.size and (not np.all(np.isfinite(e)) or np.any(e <= 0)):
            i = int(np.flatnonzero(~np.isfinite(e) | (e <= 0))[0])
            raise ValueError(f"EquityCurve: equity must be finite and > 0, got {e[i]!r} at "
                             f"index {i}")
        object.__setattr__(self, "ts_ns", t)
        object.__setattr__(self, "equity", e)


@dataclass(frozen=True)
class RunMeta:
    run_id: str
    mode: str                                  # "backtest" | "paper" | "live"
    config: Mapping[str, Any] = field(default_factory=dict)   # already redacted (see redact)
    candle_based: bool = False                 # fills simulated on candles, not on the book
    data_sources: tuple[str, ...] = ()
    returns_period_ns: int = m.NS_PER_DAY
    periods_per_year: float = m.DAYS_PER_YEAR
    risk_free: float = 0.0                     # annual
    base_currency: str = "USDT"                # the quote currency money is in


@dataclass
class Results:
    """Everything a run produced that its report shows."""
    meta: RunMeta
    equity: EquityCurve
    trades: list[RoundTrip] = field(default_factory=list)
    fills: list[FillRecord] = field(default_factory=list)
    denials: list[Denial] = field(default_factory=list)
    latency_ns: dict[str, np.ndarray] = field(default_factory=dict)   # stage -> samples
    prices: list[PriceSeries] = field(default_factory=list)


# --------------------------------------------------------------------------- redaction, JSON

def _is_secret_key(key: object) -> bool:
    k = str(key).lower()
    return any(w in k for w in SECRET_WORDS)


def redact(config: Any) -> Any:
    """A copy of `config` with the value of every key containing key/secret/token/password/
    passphrase (case-insensitive, at any depth, in dicts and lists) replaced by "***".

    Over-matching ("sort_key") is accepted: a masked harmless value costs less than a leaked
    credential. Empty values (None, "") stay as they are so a report shows that none was set."""
    if isinstance(config, Mapping):
        out = {}
        for k, v in config.items():
            if _is_secret_key(k):
                out[k] = v if v is None or v == "" else REDACTED
            else:
                out[k] = redact(v)
        return out
    if isinstance(config, (list, tuple)):
        return [redact(v) for v in config]
    return config




def dumps(summary: Mapping[str, Any]) -> bytes:
    """The summary as indented JSON (orjson), after `json_safe`."""
    return orjson.dumps(json_safe(summary), option=orjson.OPT_INDENT_2)


# --------------------------------------------------------------------------- the summary

def _iso(ts_ns: int) -> str:
    return str(np.datetime64(int(ts_ns), "ns").astype("datetime64[s]")) + "Z"


def _trade_stats(trades: list[RoundTrip], fills: list[FillRecord]) -> dict[str, Any]:
    pnl = np.array([t.pnl for t in trades], dtype=np.float64)
    gross = float(sum(t.gross_pnl for t in trades))
    if fills:
        fees = m.total_fees([f.fee for f in fills])
        notional = float(sum(f.notional for f in fills))
    else:
        fees = m.total_fees([t.fees for t in trades])
        notional = float(sum(t.qty * (abs(t.entry_price) + abs(t.exit_price)) for t in trades))
    return {
        "trades": m.trade_count(pnl),
        "wins": int(np.count_nonzero(pnl > 0)),
        "losses": int(np.count_nonzero(pnl < 0)),
        "win_rate": m.win_rate(pnl),
        "profit_factor": m.profit_factor(pnl),
        "expectancy": m.expectancy(pnl),
        "average_win": m.average_win(pnl),
        "average_loss": m.average_loss(pnl),
        "gross_pnl": gross,
        "fees_paid": fees,
        "net_pnl": float(pnl.sum()),
        "traded_notional": notional,
        "fills": len(fills),
    }


def _group(items: Iterable, key) -> dict[str, list]:
    g: dict[str, list] = defaultdict(list)
    for it in items:
        g[key(it)].append(it)
    return g


def summarize(results: Results) -> dict[str, Any]:
    """Every metric of the run as a JSON-ready dict (nan/inf still present: see `dumps`).

    Sections: run (metadata, redacted config), period, returns (from the equity curve),
    trades (all round trips), by_strategy, by_symbol, exit_reasons, denials, latency_ns, edge.
    Per-strategy and per-symbol sections are trade statistics only: the engine records one
    equity curve for the account, so ratios such as Sharpe exist only for the whole run."""
    meta, eq = results.meta, results.equity
    t, e = eq.ts_ns, eq.equity
    ppy, rf = meta.periods_per_year, meta.risk_free
    _, rets = m.period_returns(t, e, meta.returns_period_ns) if e.size else (None, np.empty(0))
    ann = m.annualized_return(rets, ppy) if rets.size else math.nan
    mdd = m.max_drawdown(e)
    dd_ns, dd_recovered = m.max_drawdown_duration(t, e)
    start, end = (int(t[0]), int(t[-1])) if t.size else (0, 0)

    trades, fills = results.trades, results.fills
    overall = _trade_stats(trades, fills)
    fill_notionals = ([f.notional for f in fills] if fills else
                      [t_.qty * (abs(t_.entry_price) + abs(t_.exit_price)) for t_ in trades])
    overall["turnover"] = m.turnover(fill_notionals, e) if e.size else math.nan
    overall["exposure"] = m.exposure([(x.entry_ts_ns, x.exit_ts_ns) for x in trades], start, end)

    fills_by_strategy = _group(fills, lambda f: f.strategy)
    fills_by_market = _group(fills, lambda f: f"{f.venue}:{f.symbol}")
    by_strategy = {k: _trade_stats(v, fills_by_strategy.get(k, []))
                   for k, v in sorted(_group(trades, lambda x: x.strategy).items())}
    by_symbol = {k: _trade_stats(v, fills_by_market.get(k, []))
                 for k, v in sorted(_group(trades, lambda x: x.market).items())}
    exit_reasons = {k: {"trades": len(v), "net_pnl": float(sum(x.pnl for x in v)),
                        "win_rate": m.win_rate([x.pnl for x in v])}
                    for k, v in sorted(_group(trades, lambda x: x.exit_reason).items(),
                                       key=lambda kv: -len(kv[1]))}
    denials = dict(Counter(d.reason for d in results.denials).most_common())
    denials_by_strategy = {k: dict(Counter(d.reason for d in v).most_common())
                           for k, v in sorted(_group(results.denials,
                                                     lambda d: d.strategy).items())}
    latency = {stage: m.latency_percentiles(np.asarray(s, dtype=np.float64))
               for stage, s in results.latency_ns.items()}

    gross, net = overall["gross_pnl"], overall["net_pnl"]
    return {
        "run": {
            "run_id": meta.run_id, "mode": meta.mode, "candle_based": meta.candle_based,
            "data_sources": list(meta.data_sources), "base_currency": meta.base_currency,
            "config": redact(dict(meta.config)),
        },
        "period": {
            "start_ns": start, "end_ns": end,
            "start": _iso(start) if t.size else None, "end": _iso(end) if t.size else None,
            "duration_days": (end - start) / m.NS_PER_DAY,
            "equity_samples": int(t.size),
            "returns_period_s": meta.returns_period_ns / m.NS_PER_SECOND,
            "return_periods": int(rets.size),
            "periods_per_year": ppy, "risk_free_annual": rf,
        },
        "returns": {
            "start_equity": float(e[0]) if e.size else math.nan,
            "end_equity": float(e[-1]) if e.size else math.nan,
            "total_return": m.total_return(e),
            "cagr": m.cagr(t, e),
            "annualized_return": ann,
            "annualized_volatility": m.annualized_volatility(rets, ppy),
            "sharpe": m.sharpe_ratio(rets, ppy, rf),
            "sortino": m.sortino_ratio(rets, ppy, rf),
            "calmar": m.calmar_ratio(ann, mdd),
            "max_drawdown": mdd,
            "max_drawdown_duration_days": dd_ns / m.NS_PER_DAY,
            "max_drawdown_recovered": dd_recovered,
        },
        "trades": overall,
        "by_strategy": by_strategy,
        "by_symbol": by_symbol,
        "exit_reasons": exit_reasons,
        "denials": {"total": len(results.denials), "by_reason": denials,
                    "by_strategy": denials_by_strategy},
        "latency_ns": latency,
        "edge": {
            "gross_pnl": gross, "fees_paid": overall["fees_paid"], "net_pnl": net,
            "fees_over_gross": overall["fees_paid"] / gross if gross > 0 else math.nan,
            "survived_fees": bool(net > 0),
            "eaten_by_fees": bool(gross > 0 and net <= 0),
        },
    }
