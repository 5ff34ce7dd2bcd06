"""`tradecore import` and `tradecore candles`: the data-store commands.

`add_parsers(subparsers)` registers them on the `tradecore` command's sub-parsers (cli.py
wires it). The live `tradecore record` command needs the venues' WebSocket feed handlers: its
core is `recorder.record_to(root, normalizer)` (a Recorder wired to the normalizer's hooks);
the command builds the venue's feed around that normalizer and closes the recorder on exit.
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

import orjson

from tradecore.data.recorder import record_to  # noqa: F401  (the core of `tradecore record`)

CAPTURE_VENUES = ("binance", "kraken", "coinbase", "okx")


def parse_time_ns(text: str) -> int:
    """ns since the epoch from an integer (ns) or ISO 8601 text (UTC unless it says)."""
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither ns since the epoch nor an ISO 8601 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _cmd_import(args: argparse.Namespace) -> int:
    from tradecore.data.importers import (ImportFormatError, import_capture,
                                          import_kraken_rest_trades, import_tardis)

    try:
        if args.tardis:
            result = import_tardis(args.out, args.files, venue=args.venue, symbol=args.symbol)
        elif args.kraken_rest_trades:
            results = [import_kraken_rest_trades(args.out, f, symbol=args.symbol)
                       for f in args.files]
            result = results[0]
            for r in results[1:]:
                result.files += r.files
                result.trade_rows += r.trade_rows
                result.files_written += r.files_written
        else:
            if args.venue not in CAPTURE_VENUES:
                print(f"tradecore import: captures need --venue, one of "
                      f"{', '.join(CAPTURE_VENUES)} (got {args.venue!r})", file=sys.stderr)
                return 2
            result = import_capture(args.out, args.venue, args.files)
    except ImportFormatError as e:
        print(f"tradecore import: {e}", file=sys.stderr)
        return 1
    print(f"imported into {args.out}: {result.summary()}")
    for d in result.details[:5]:
        print(f"  e.g. {d}")
    return 0


def _cmd_candles(args: argparse.Namespace) -> int:
    from tradecore.data.queries import candles
    from tradecore.data.store import StoreError

    try:
        table = candles(args.store, args.venue, args.symbol, args.interval, args.start, args.end)
    except (StoreError, ValueError) as e:
        print(f"tradecore candles: {e}", file=sys.stderr)
        return 1
    cols = ["open", "high", "low", "close", "volume", "vwap"]
    out = sys.stdout
    if not args.json:
        out.write("open_time_ns,datetime_utc," + ",".join(cols) + ",trades\n")
    for row in table.to_pylist():
        t = row["open_time_ns"]
        when = datetime.fromtimestamp(t // 1_000_000_000, timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        if args.json:
            rec = {"open_time_ns": t, "datetime_utc": when}
            rec.update({c: format(row[c], "f") for c in cols})
            rec["trades"] = row["trades"]
            out.write(orjson.dumps(rec).decode() + "\n")
        else:
            out.write(f"{t},{when}," + ",".join(format(row[c], "f") for c in cols)
                      + f",{row['trades']}\n")
    if not table.num_rows:
        print(f"tradecore candles: no {args.venue} {args.symbol} trades in {args.store}",
              file=sys.stderr)
    return 0


def add_parsers(subparsers) -> None:
    """Register `import` and `candles` on an argparse sub-parsers object."""
    imp = subparsers.add_parser(
        "import", help="import recorded market data into the Parquet store",
        description="Import into the Parquet store: raw captures (hftbacktest '<ns> <msg>' or "
                    "cryptofeed JSON-Lines, .gz accepted) replayed through the venue's "
                    "normalizer (--venue); Tardis.dev incremental_book_L2 / trades CSV "
                    "(--tardis); a Kraken REST Trades response (--kraken-rest-trades). "
                    "All or nothing: a malformed input names its file and line and adds "
                    "nothing.")
    imp.add_argument("--venue", help="the capture's venue (binance, kraken, coinbase, okx); "
                                     "with --tardis it replaces the exchange column")
    imp.add_argument("--out", required=True, help="the store's root directory")
    fmt = imp.add_mutually_exclusive_group()
    fmt.add_argument("--tardis", action="store_true", help="the files are Tardis CSV")
    fmt.add_argument("--kraken-rest-trades", action="store_true",
                     help="the files are Kraken GET /0/public/Trades responses")
    imp.add_argument("--symbol", help="replace (or stand in for) the symbol of the input")
    imp.add_argument("files", nargs="+", help="input files (one recording, in order)")
    imp.set_defaults(func=_cmd_import)

    c = subparsers.add_parser(
        "candles", help="OHLCV bars from the recorded trades (exact decimals)",
        description="OHLCV + vwap + trade count per interval from the store's trades, "
                    "computed by DuckDB in exact decimal arithmetic; bars on the exchange "
                    "clock, only intervals with trades. CSV (or JSON lines) on stdout.")
    c.add_argument("--store", required=True, help="the store's root directory")
    c.add_argument("--venue", required=True)
    c.add_argument("--symbol", required=True, help="the exchange's symbol, e.g. BTCUSDT, XBT/USD")
    c.add_argument("--interval", default="1m", help="<n>s|m|h|d (default 1m)")
    c.add_argument("--start", type=parse_time_ns, help="first time (ns or ISO 8601, UTC)")
    c.add_argument("--end", type=parse_time_ns, help="end time, exclusive (ns or ISO 8601)")
    c.add_argument("--json", action="store_true", help="JSON lines instead of CSV")
    c.set_defaults(func=_cmd_candles)
