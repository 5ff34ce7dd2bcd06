"""The report of a run: `report.json` (machine readable) and `report.html` (for people).

The HTML page is one self-contained file: plots are PNGs drawn by matplotlib's Agg renderer and
embedded as base64 data URIs, the style sheet is inline, fonts are the browser's own. It opens
offline, can be mailed or archived as is, and references no external resource.

Figures are drawn on `matplotlib.figure.Figure` objects, not through pyplot: no global figure
registry, no GUI backend, nothing left open between reports. One style (`_STYLE`) for every
plot; times on the x axis are UTC.
"""
from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
from matplotlib import rc_context
from matplotlib.colors import TwoSlopeNorm
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from tradecore.backtest import metrics as m
from tradecore.backtest.results import Results, dumps, summarize

__all__ = ["write_report", "write_json", "render_html", "PLOTS", "MAX_MARKETS_DRAWN"]

MAX_MARKETS_DRAWN = 4        # trade-marker panels; more markets are listed, not drawn
PLOTS = ("equity", "drawdown", "monthly", "trades", "pnl", "latency")   # figure ids, in order

_UP, _DOWN, _LINE, _MUTED = "#1a9850", "#d73027", "#2c5d8f", "#7f7f7f"
_STYLE = {
    "figure.dpi": 100, "savefig.dpi": 110, "figure.facecolor": "white",
    "font.size": 10, "axes.titlesize": 12, "axes.titleweight": "bold", "axes.labelsize": 10,
    "axes.grid": True, "grid.alpha": 0.3, "grid.linestyle": "-",
    "axes.spines.top": False, "axes.spines.right": False,
    "legend.frameon": False, "legend.fontsize": 9, "lines.linewidth": 1.3,
}


# --------------------------------------------------------------------------- plot helpers

def _dates(ts_ns) -> np.ndarray:
    return np.asarray(ts_ns, dtype=np.int64).astype("datetime64[ns]").astype("datetime64[ms]")


def _date_axis(ax) -> None:
    loc = AutoDateLocator()
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(loc))
    ax.set_xlabel("time (UTC)")


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plot_equity(res: Results, s: dict) -> Figure:
    cur = s["run"]["base_currency"]
    t, e = res.equity.ts_ns, res.equity.equity
    fig = Figure(figsize=(10, 3.8))
    ax = fig.add_subplot()
    ax.plot(_dates(t), e, color=_LINE, label="equity")
    ax.axhline(e[0], color=_MUTED, ls="--", lw=1, label=f"start {e[0]:,.2f} {cur}")
    ax.fill_between(_dates(t), e, e[0], where=e >= e[0], color=_UP, alpha=0.12, lw=0)
    ax.fill_between(_dates(t), e, e[0], where=e < e[0], color=_DOWN, alpha=0.12, lw=0)
    ax.set_title("Equity curve")
    ax.set_ylabel(f"equity ({cur})")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    _date_axis(ax)
    ax.legend(loc="upper left")
    return fig


def _plot_drawdown(res: Results, s: dict) -> Figure:
    t = _dates(res.equity.ts_ns)
    dd = m.drawdown_series(res.equity.equity) * 100.0
    fig = Figure(figsize=(10, 2.8))
    ax = fig.add_subplot()
    ax.fill_between(t, dd, 0, color=_DOWN, alpha=0.35, lw=0)
    ax.plot(t, dd, color=_DOWN, lw=1)
    i = int(np.argmin(dd))
    days = s["returns"]["max_drawdown_duration_days"]
    ax.annotate(f"max {dd[i]:.2f} %", (t[i], dd[i]), xytext=(8, -4), textcoords="offset points",
                fontsize=9, color=_DOWN)
    ax.set_title(f"Drawdown (underwater) - longest spell {days:.1f} days")
    ax.set_ylabel("below previous peak (%)")
    ax.set_ylim(min(dd.min() * 1.15, -0.5), 0.5)
    _date_axis(ax)
    return fig


def _plot_monthly(res: Results, s: dict) -> Figure:
    years, months, rets = m.monthly_returns(res.equity.ts_ns, res.equity.equity)
    ys = np.arange(years.min(), years.max() + 1)
    grid = np.full((ys.size, 12), np.nan)
    grid[years - ys[0], months - 1] = rets * 100.0
    lim = max(float(np.nanmax(np.abs(grid))), 0.1)
    fig = Figure(figsize=(10, 1.4 + 0.45 * ys.size))
    ax = fig.add_subplot()
    im = ax.imshow(grid, cmap="RdYlGn", norm=TwoSlopeNorm(0.0, -lim, lim), aspect="auto")
    for (r, c), v in np.ndenumerate(grid):
        if not math.isnan(v):
            ax.text(c, r, f"{v:+.1f}%", ha="center", va="center", fontsize=9,
                    color="white" if abs(v) > 0.6 * lim else "black")
    ax.set_xticks(range(12), ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                              "Oct", "Nov", "Dec"])
    ax.set_yticks(range(ys.size), [str(y) for y in ys])
    ax.grid(False)
    ax.set_title("Monthly returns (%, UTC calendar months; blank: outside the run)")
    ax.set_xlabel("month")
    ax.set_ylabel("year")
    fig.colorbar(im, ax=ax, label="return (%)", fraction=0.025, pad=0.01)
    return fig


def _plot_trades(res: Results, s: dict) -> Figure:
    by_market: dict[str, list] = {}
    for t in res.trades:
        by_market.setdefault(t.market, []).append(t)
    prices = {p.market: p for p in res.prices}
    markets = [k for k in sorted(by_market) if k in prices][:MAX_MARKETS_DRAWN]
    fig = Figure(figsize=(10, 3.2 * len(markets)))
    axes = fig.subplots(len(markets), 1, squeeze=False)[:, 0]
    for ax, key in zip(axes, markets):
        p, trades = prices[key], by_market[key]
        ax.plot(_dates(p.ts_ns), p.price, color=_MUTED, lw=1, label="price")
        for side, mark, label in ((1, "^", "long entry"), (-1, "v", "short entry")):
            tr = [t for t in trades if t.side == side]
            if tr:
                ax.scatter(_dates([t.entry_ts_ns for t in tr]), [t.entry_price for t in tr],
                           marker=mark, s=46, color=_LINE, zorder=3, label=label)
        for won, color, label in ((True, _UP, "exit, net win"), (False, _DOWN, "exit, net loss")):
            tr = [t for t in trades if (t.pnl > 0) == won]
            if tr:
                ax.scatter(_dates([t.exit_ts_ns for t in tr]), [t.exit_price for t in tr],
                           marker="o", s=30, color=color, edgecolor="white", lw=0.6, zorder=4,
                           label=label)
        for t in trades:
            ax.plot(_dates([t.entry_ts_ns, t.exit_ts_ns]), [t.entry_price, t.exit_price],
                    color=_UP if t.pnl > 0 else _DOWN, lw=1.6, alpha=0.6, zorder=2)
        ax.set_title(f"Trades on {key} ({len(trades)} round trips)")
        ax.set_ylabel(f"price ({s['run']['base_currency']})")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.6g}")
        _date_axis(ax)
        ax.legend(loc="best", ncol=5)
    fig.tight_layout()
    return fig


def _plot_pnl(res: Results, s: dict) -> Figure:
    pnl = np.array([t.pnl for t in res.trades])
    cur = s["run"]["base_currency"]
    fig = Figure(figsize=(10, 3.4))
    ax = fig.add_subplot()
    bins = np.histogram_bin_edges(pnl, bins=min(40, max(5, pnl.size // 2)))
    n, edges, patches = ax.hist(pnl, bins=bins, edgecolor="white", lw=0.6)
    for patch, left, right in zip(patches, edges[:-1], edges[1:]):
        patch.set_facecolor(_UP if (left + right) / 2 > 0 else _DOWN)
    ax.axvline(0, color="black", lw=1)
    ax.axvline(pnl.mean(), color=_LINE, ls="--", lw=1.2,
               label=f"expectancy {pnl.mean():+,.2f} {cur}")
    ax.set_title(f"Net PnL per round trip ({pnl.size} round trips, after fees)")
    ax.set_xlabel(f"net PnL ({cur})")
    ax.set_ylabel("round trips")
    ax.legend(loc="best")
    return fig


def _plot_latency(res: Results, s: dict) -> Figure:
    stages = [k for k, v in res.latency_ns.items() if np.asarray(v).size]
    fig = Figure(figsize=(10, 2.1 * len(stages) + 0.6))
    axes = fig.subplots(len(stages), 1, squeeze=False, sharex=True)[:, 0]
    allv = np.concatenate([np.asarray(res.latency_ns[k], dtype=np.float64) for k in stages])
    lo = max(float(allv[allv > 0].min()) if np.any(allv > 0) else 1.0, 1.0)
    bins = np.geomspace(lo, max(float(allv.max()), lo * 10), 60) / 1e3
    for ax, stage in zip(axes, stages):
        v = np.asarray(res.latency_ns[stage], dtype=np.float64)
        ax.hist(np.clip(v, lo, None) / 1e3, bins=bins, color=_LINE, alpha=0.8)
        q = s["latency_ns"][stage]
        for key, ls in (("p50", "-"), ("p99", "--"), ("p99_9", ":")):
            ax.axvline(q[key] / 1e3, color=_DOWN, ls=ls, lw=1,
                       label=f"{key.replace('_', '.')} {q[key] / 1e3:,.1f} µs")
        ax.set_xscale("log")
        ax.set_title(f"{stage} (n={v.size:,})", loc="left", fontsize=10)
        ax.set_ylabel("samples")
        ax.legend(loc="best")
    axes[-1].set_xlabel("latency (µs, log scale)")
    fig.suptitle("Latency per stage", fontweight="bold")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:1100px;color:#222;padding:0 1em}
h1{margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:14px}
th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left} th{background:#f6f6f6}
.banner{padding:.8em 1em;border-radius:6px;margin:1em 0;font-weight:600}
.candle{background:#fff4ce;border:1px solid #e0c060}
.fees{background:#fde2e1;border:1px solid #d73027}
.note{color:#555;font-size:14px} figure{margin:1.2em 0} img{max-width:100%;height:auto}
figcaption{color:#555;font-size:13px}
pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:12px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:0 2em}
"""


def _fmt(v: Any, kind: str = "num") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if kind == "pct":
        return f"{v * 100:+.2f} %"
    if kind == "rate":                       # a fraction with no direction (win rate, volatility)
        return f"{v * 100:.2f} %"
    if kind == "money":
        return f"{v:,.2f}"
    if kind == "int":
        return f"{int(v):,}"
    if kind == "ratio":
        return f"{v:.2f}"
    if kind == "days":
        return f"{v:.2f} d"
    return html.escape(str(v))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STAT_COLS = [("trades", "trades", "int"), ("win rate", "win_rate", "rate"),
              ("profit factor", "profit_factor", "ratio"), ("expectancy", "expectancy", "money"),
              ("avg win", "average_win", "money"), ("avg loss", "average_loss", "money"),
              ("gross PnL", "gross_pnl", "money"), ("fees", "fees_paid", "money"),
              ("net PnL", "net_pnl", "money")]


def _breakdown(title: str, groups: dict) -> str:
    if not groups:
        return f"<h2>{title}</h2><p class=note>No round trips.</p>"
    rows = [[html.escape(k)] + [_fmt(g[key], kind) for _, key, kind in _STAT_COLS]
            for k, g in groups.items()]
    return f"<h2>{title}</h2>" + _table([""] + [c for c, _, _ in _STAT_COLS], rows)


def _summary_table(s: dict) -> str:
    r, t, p = s["returns"], s["trades"], s["period"]
    cur = s["run"]["base_currency"]
    left = [
        ("start equity", _fmt(r["start_equity"], "money") + f" {cur}"),
        ("end equity", _fmt(r["end_equity"], "money") + f" {cur}"),
        ("total return", _fmt(r["total_return"], "pct")),
        ("CAGR (wall-clock)", _fmt(r["cagr"], "pct")),
        ("annualized return", _fmt(r["annualized_return"], "pct")),
        ("annualized volatility", _fmt(r["annualized_volatility"], "rate")),
        ("Sharpe", _fmt(r["sharpe"], "ratio")),
        ("Sortino", _fmt(r["sortino"], "ratio")),
        ("Calmar", _fmt(r["calmar"], "ratio")),
        ("max drawdown", _fmt(r["max_drawdown"], "pct")),
        ("max drawdown duration", _fmt(r["max_drawdown_duration_days"], "days")
         + ("" if r["max_drawdown_recovered"] else " (not recovered)")),
    ]
    right = [
        ("round trips", _fmt(t["trades"], "int")),
        ("win rate", _fmt(t["win_rate"], "rate")),
        ("profit factor", _fmt(t["profit_factor"], "ratio")),
        ("expectancy / trade", _fmt(t["expectancy"], "money") + f" {cur}"),
        ("gross PnL", _fmt(t["gross_pnl"], "money") + f" {cur}"),
        ("fees paid", _fmt(t["fees_paid"], "money") + f" {cur}"),
        ("net PnL", _fmt(t["net_pnl"], "money") + f" {cur}"),
        ("turnover (x mean equity)", _fmt(t["turnover"], "ratio")),
        ("exposure (time in market)", _fmt(t["exposure"], "rate")),
        ("period", f"{_fmt(p['start'])} to {_fmt(p['end'])} ({p['duration_days']:.1f} d)"),
        ("return periods", f"{p['return_periods']} x {p['returns_period_s'] / 3600:g} h, "
                           f"{p['periods_per_year']:g}/year"),
    ]
    return ('<div class=grid>' + _table(["return", ""], [[html.escape(a), b] for a, b in left])
            + _table(["trading", ""], [[html.escape(a), b] for a, b in right]) + "</div>")


def _figure(fig_id: str, title: str, draw: Callable[[], Figure], caption: str) -> str:
    with rc_context(_STYLE):
        fig = draw()
        data = _png(fig)
    return (f'<figure id="{fig_id}"><img alt="{html.escape(title)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>')


def render_html(res: Results, s: dict) -> str:
    """The report page for `res` with its summary `s` (from `summarize`)."""
    run, r, e = s["run"], s["returns"], s["edge"]
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8>"
             f"<meta name=viewport content='width=device-width,initial-scale=1'>"
             f"<title>tradecore report {html.escape(run['run_id'])}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>Run {html.escape(run['run_id'])}</h1>",
             f"<p class=note>mode <b>{html.escape(run['mode'])}</b>; data: "
             f"{html.escape(', '.join(run['data_sources']) or 'not recorded')}</p>"]
    if run["candle_based"]:
        parts.append("<div class='banner candle' id=candle-banner>Candle-based backtest: fills "
                     "were simulated on OHLC candles, not on the order book. Queue position, "
                     "spread and intra-candle price paths are unknown, so fills and fees are "
                     "optimistic; treat these figures as an upper bound.</div>")
    if e["eaten_by_fees"]:
        parts.append(f"<div class='banner fees' id=fees-banner>The edge did not survive fees: "
                     f"gross PnL {_fmt(e['gross_pnl'], 'money')} {run['base_currency']}, fees "
                     f"{_fmt(e['fees_paid'], 'money')}, net {_fmt(e['net_pnl'], 'money')} "
                     f"{run['base_currency']}. "
                     f"Before fees the strategy made money; after them it did not.</div>")
    parts.append("<h2>Summary</h2>" + _summary_table(s))
    parts.append("<p class=note>Return ratios use per-period returns of the account's equity "
                 "(see docs/reports.md for every definition); n/a means not defined for this "
                 "run (e.g. no losing trade for the profit factor, too few periods for "
                 "Sharpe). CAGR and annualized return extrapolate short runs.</p>")

    eq_ok = res.equity.ts_ns.size >= 2
    if eq_ok:
        parts.append("<h2>Equity and drawdown</h2>")
        parts.append(_figure("equity", "Equity curve", lambda: _plot_equity(res, s),
                             "Account equity, marked to market at each sample."))
        parts.append(_figure("drawdown", "Drawdown", lambda: _plot_drawdown(res, s),
                             "Fall below the running peak of equity; 0 at each new high."))
        _, _, mr = m.monthly_returns(res.equity.ts_ns, res.equity.equity)
        days = s["period"]["duration_days"]
        partial = (f"This run covers {days:.1f} days, less than a calendar month: the "
                   f"cells show the partial month(s) it touches, nothing more."
                   if days < 28 else "The first and last months are partial when the run "
                   "starts or ends mid-month.")
        parts.append("<h2>Monthly returns</h2>")
        parts.append(_figure("monthly", "Monthly returns", lambda: _plot_monthly(res, s),
                             f"{len(mr)} month(s). {partial}"))
    else:
        parts.append("<h2>Equity</h2><p class=note>Fewer than two equity samples: no curve, "
                     "drawdown or monthly returns to draw.</p>")

    parts.append("<h2>Trades</h2>")
    drawable = {p.market for p in res.prices} & {t.market for t in res.trades}
    if drawable:
        more = len(drawable) - MAX_MARKETS_DRAWN
        cap = ("Entries (triangles: up long, down short) and exits (green: net win, red: net "
               "loss) on the price; lines join each round trip's entry and exit.")
        if more > 0:
            cap += f" {more} more market(s) not drawn; see the per-symbol table."
        parts.append(_figure("trades", "Trades on price", lambda: _plot_trades(res, s), cap))
    else:
        parts.append("<p class=note>No round trips with a recorded price series: no trade "
                     "markers to draw.</p>")
    if res.trades:
        parts.append(_figure("pnl", "PnL distribution", lambda: _plot_pnl(res, s),
                             "Histogram of net PnL per round trip (after fees)."))
    parts.append(_breakdown("Per strategy", s["by_strategy"]))
    parts.append(_breakdown("Per symbol", s["by_symbol"]))
    if s["exit_reasons"]:
        parts.append("<h2>Exit reasons</h2>" + _table(
            ["reason", "round trips", "win rate", "net PnL"],
            [[html.escape(k), _fmt(v["trades"], "int"), _fmt(v["win_rate"], "rate"),
              _fmt(v["net_pnl"], "money")] for k, v in s["exit_reasons"].items()]))

    d = s["denials"]
    parts.append("<h2>Denied orders</h2>")
    if d["total"]:
        parts.append(_table(["reason", "orders"], [[html.escape(k), _fmt(v, "int")]
                                                   for k, v in d["by_reason"].items()]))
    else:
        parts.append("<p class=note>The risk gate denied no order.</p>")

    parts.append("<h2>Latency</h2>")
    if any(np.asarray(v).size for v in res.latency_ns.values()):
        lat = s["latency_ns"]
        parts.append(_table(["stage", "samples", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs",
                             "max µs"],
                            [[html.escape(k), _fmt(q["count"], "int")]
                             + [_fmt(q[c] / 1e3, "money")
                                for c in ("p50", "p90", "p99", "p99_9", "max")]
                             for k, q in lat.items()]))
        parts.append(_figure("latency", "Latency histograms", lambda: _plot_latency(res, s),
                             "Samples per stage on a log scale; lines at p50, p99, p99.9."))
    else:
        parts.append("<p class=note>No latency samples were recorded.</p>")

    parts.append("<h2>Run configuration (redacted)</h2><pre>"
                 + html.escape(dumps(run["config"]).decode()) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(results: Results, out_dir: str | Path) -> dict[str, Path]:
    """Write `report.json` and `report.html` into `out_dir` (created if missing).

    Returns {"json": path, "html": path}. The JSON is `summarize(results)` with the null rule of
    results.py; the HTML is rendered from the same summary, so the two never disagree."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    s = summarize(results)
    page = render_html(results, s)
    paths = {"json": out / "report.json", "html": out / "report.html"}
    paths["json"].write_bytes(dumps(s))
    paths["html"].write_text(page, encoding="utf-8")
    return paths


def write_json(results: Results, path: str | Path) -> Path:
    """Only the machine-readable summary, at `path` (what `--report-json PATH` writes)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(dumps(summarize(results)))
    return p
