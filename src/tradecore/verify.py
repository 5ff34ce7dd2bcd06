"""Replay captured exchange messages through a venue's normalizer and verify the books.

Used by `tradecore book verify` on recordings we have never seen, so it trusts nothing in them:
every checksum, every sequence rule and (Binance) every bookTicker with a matching update id is
checked. One normalizer serves all files of a run, so consecutive files of one recording (the
hftbacktest day files) continue each other.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path

from tradecore.data.capture import REST, WS, CaptureError, read_capture
from tradecore.venues.base import BookNormalizer

VENUES = {
    "binance": "tradecore.venues.binance.normalize:BinanceNormalizer",
    "kraken": "tradecore.venues.kraken.normalize:KrakenNormalizer",
    "coinbase": "tradecore.venues.coinbase.normalize:CoinbaseNormalizer",
    "okx": "tradecore.venues.okx.normalize:OkxNormalizer",
}


def normalizer_for(venue: str) -> BookNormalizer:
    """A fresh normalizer of a venue (ValueError naming the choices for an unknown venue)."""
    if venue not in VENUES:
        raise ValueError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}")
    module, _, cls = VENUES[venue].partition(":")
    return getattr(importlib.import_module(module), cls)()


def replay(norm: BookNormalizer, files: Iterable[str | Path]) -> int:
    """Feed capture files to a normalizer; returns the number of unreadable capture lines."""
    unreadable = 0

    def bad_line(e: CaptureError) -> None:
        nonlocal unreadable
        unreadable += 1
        norm.problem("?", "unreadable_capture_line", str(e))

    for path in files:
        for rec in read_capture(path, on_error=bad_line):
            if rec.kind == WS:
                norm.on_frame(rec.payload, rec.conn, rec.ts_ns)
            elif rec.kind == REST:
                norm.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
    return unreadable


def verify_books(venue: str, files: list[str | Path]) -> dict:
    """Replay and summarise. `ok` is False on any checksum or top-of-book mismatch and on a
    book left invalid by a gap that no snapshot repaired."""
    norm = normalizer_for(venue)
    replay(norm, files)
    s = norm.stats
    unrecovered = [f"{conn}/{sym}" for conn, sym in norm.unrecovered()]
    summary = {
        "venue": venue,
        "files": [str(f) for f in files],
        "messages": s.messages,
        "levels": s.levels,
        "trades": s.trades,
        "gaps": s.gaps,
        "resyncs": s.resyncs,
        "checksums_ok": s.checksums_ok,
        "checksums_bad": s.checksums_bad,
        "top_checks_ok": s.top_checks_ok,
        "top_checks_bad": s.top_checks_bad,
        "errors": dict(sorted(s.errors.items())),
        "unrecovered": unrecovered,
        "books": {sym: {"best_bid": v["best_bid"], "best_ask": v["best_ask"]}
                  for sym, v in norm.top_of_books().items()},
    }
    summary["ok"] = (s.checksums_bad == 0 and s.top_checks_bad == 0 and not unrecovered)
    return summary


def format_summary(r: dict) -> str:
    """The human-readable report."""
    lines = [
        f"venue {r['venue']}: {len(r['files'])} file(s), {r['messages']:,} messages, "
        f"{r['levels']:,} levels, {r['trades']:,} trades",
        f"  sequence: {r['gaps']} gap(s), {r['resyncs']} resync(s), "
        f"{len(r['unrecovered'])} book(s) left invalid {r['unrecovered'] or ''}".rstrip(),
        f"  checksums: {r['checksums_ok']:,} ok, {r['checksums_bad']} bad",
        f"  top of book vs exchange ticker: {r['top_checks_ok']:,} ok, {r['top_checks_bad']} bad",
    ]
    if r["errors"]:
        lines.append("  problems: " + ", ".join(f"{k} {v}" for k, v in r["errors"].items()))
    lines.append("  final books:")
    for sym, b in sorted(r["books"].items()):
        bb = "-" if not b["best_bid"] else f"{b['best_bid'][0]:.10g} x {b['best_bid'][1]:.10g}"
        ba = "-" if not b["best_ask"] else f"{b['best_ask'][0]:.10g} x {b['best_ask'][1]:.10g}"
        lines.append(f"    {sym:<24} bid {bb:<32} ask {ba}")
    lines.append("  result: " + ("OK" if r["ok"] else "FAILED"))
    return "\n".join(lines)
