"""Importers into the Parquet store: raw captures, Tardis CSV, Kraken REST trades.

* `import_capture(root, venue, files)`: captured raw exchange messages (hftbacktest
  `<ns> <msg>` lines, cryptofeed JSON-Lines; any of the four venues) replayed through the
  venue's normalizer, recording what its on_levels / on_trade hooks emit: the store then holds
  exactly the levels the normalizer applied (sequence-checked, snapshots synced, Kraken's
  depth truncation as deletes), not the raw messages.
* `import_tardis(root, files)`: Tardis.dev `incremental_book_L2` and `trades` CSV (plain or
  gzip). Timestamps are µs: `timestamp` is the exchange's, `local_timestamp` Tardis' receive
  time (ts_local_ns). Book rows: a run of `is_snapshot=true` rows of a symbol is one snapshot
  batch (it replaces the book, Tardis' rule); other rows with the same `timestamp` form one
  batch. Numbers are kept as text (scientific notation, which Tardis writes for tiny amounts,
  is rewritten as plain decimal text, exactly).
* `import_kraken_rest_trades(root, path)`: a Kraken `GET /0/public/Trades` response
  (`{"result": {PAIR: [[price, volume, time, "b"|"s", "l"|"m", misc, trade_id], ...],
  "last": ...}}`). A REST trade has no local receive time: ts_local_ns = the exchange time,
  and the rows are marked backfilled.

All-or-nothing per call: files are written under a staging directory inside the store
(`ROOT/.import-*`, invisible to readers) and moved into place only when every input was read;
a malformed input raises ImportFormatError naming the file and line, and nothing is added.
(A kill during the final moves leaves a subset of whole files visible and the staging
directory behind.) Re-importing the same input with the same options writes files of the same
names, which replace the earlier ones.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tradecore.core.events import BUY, SELL, Trade
from tradecore.data.capture import read_capture
from tradecore.data.recorder import Recorder
from tradecore.data.store import SCHEMAS

PUMP_EVERY = 2_000          # hook calls between drains of the recorder's queues
_PLAIN = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_NUMBER = re.compile(r"[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?")
_DIGITS = re.compile(r"[0-9]+")


class ImportFormatError(ValueError):
    """An input that cannot be imported: `path:line: reason`."""


@dataclass
class ImportResult:
    files: list[str]
    book_rows: int = 0
    trade_rows: int = 0
    files_written: int = 0
    problems: dict = field(default_factory=dict)    # normalizer problems: reason -> count
    details: list = field(default_factory=list)     # the first problem details

    def summary(self) -> str:
        s = (f"{len(self.files)} input file(s): {self.book_rows:,} book rows, "
             f"{self.trade_rows:,} trades, {self.files_written} store file(s) written")
        if self.problems:
            s += "\n  problems: " + ", ".join(f"{k} {v}" for k, v in sorted(self.problems.items()))
        return s


def _open_text(path: Path):
    with open(path, "rb") as f:
        magic = f.read(2)
    raw = gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


class _Staged:
    """A Recorder writing into a staging directory of the store, moved in on success."""

    def __init__(self, root: str | Path, batch_base: int, flush_rows: int,
                 compression: str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.stage = self.root / f".import-{os.getpid()}-{batch_base}"
        if self.stage.exists():
            shutil.rmtree(self.stage)
        self.rec = Recorder(self.stage, threaded=False, flush_seconds=None,
                            flush_rows=flush_rows, rotate_seconds=86_400, fsync=False,
                            compression=compression, batch_base=batch_base)
        self.calls = 0

    def tick(self) -> None:
        self.calls += 1
        if self.calls % PUMP_EVERY == 0:
            self.rec.pump()

    def commit(self, result: ImportResult) -> ImportResult:
        self.rec.close()
        s = self.rec.stats
        if s.write_errors:
            self.abort()
            raise OSError(f"import failed writing the store: {s.last_error}")
        result.files_written = s.files_written
        moved = []
        for kind in SCHEMAS:
            base = self.stage / kind
            if base.is_dir():
                moved += [p for p in base.rglob("*.parquet")]
        for p in moved:
            dest = self.root / p.relative_to(self.stage)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(p, "rb") as f:       # the staging files were written without fsync
                os.fsync(f.fileno())
            os.replace(p, dest)
        shutil.rmtree(self.stage, ignore_errors=True)
        return result

    def abort(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)


# -- captures ----------------------------------------------------------------------------------
def _first_ts(files: list[Path]) -> int:
    for f in files:
        for rec in read_capture(f, on_error=lambda e: None):
            if rec.ts_ns:
                return rec.ts_ns
    return 0


def import_capture(root: str | Path, venue: str, files: list[str | Path], *,
                   flush_rows: int = 500_000, compression: str = "zstd") -> ImportResult:
    """Replay capture files (in the order given, as one recording) through the venue's
    normalizer into the store. Unreadable lines and bad messages are counted in `problems`
    (the normalizer's rules: dropped, never applied), not raised."""
    from tradecore.verify import normalizer_for, replay

    paths = [Path(f) for f in files]
    for p in paths:
        if not p.is_file():
            raise ImportFormatError(f"{p}: no such file")
    norm = normalizer_for(venue)
    result = ImportResult([str(p) for p in paths])
    st = _Staged(root, _first_ts(paths), flush_rows, compression)
    rec = st.rec

    def on_levels(key, ts_ns, seq, levels, is_snapshot):
        rec.on_levels(key, ts_ns, seq, levels, is_snapshot, venue)
        result.book_rows += len(levels)
        st.tick()

    def on_trade(trade):
        rec.on_trade(trade)
        result.trade_rows += 1
        st.tick()

    def on_problem(p):
        if len(result.details) < 10:
            result.details.append(f"{p.symbol}: {p.reason}: {p.detail}"[:300])

    norm.on_levels, norm.on_trade, norm.on_problem = on_levels, on_trade, on_problem
    try:
        replay(norm, paths)
    except BaseException:
        st.abort()
        raise
    result.problems = dict(norm.stats.errors)
    return st.commit(result)


# -- Tardis CSV ----------------------------------------------------------------------------------
BOOK_COLUMNS = ("timestamp", "local_timestamp", "is_snapshot", "side", "price", "amount")
TRADE_COLUMNS = ("id", "side", "price", "amount")
_AGGRESSOR = {"buy": BUY, "sell": SELL, "unknown": 0}


def _decimal_text(text: str, what: str, where: str) -> str:
    if _PLAIN.fullmatch(text):
        return text
    if _NUMBER.fullmatch(text):
        try:
            return format(Decimal(text), "f")
        except InvalidOperation:
            pass
    raise ImportFormatError(f"{where}: {what} {text!r} is not a non-negative decimal number")


def _us_to_ns(text: str, what: str, where: str) -> int:
    if not _DIGITS.fullmatch(text):
        raise ImportFormatError(f"{where}: {what} {text!r} is not integer microseconds")
    return int(text) * 1_000


def tardis_kind(header: list[str]) -> str:
    """'book' for incremental_book_L2 columns, 'trades' for trades columns."""
    cols = set(header)
    if cols.issuperset(BOOK_COLUMNS):
        return "book"
    if cols.issuperset(TRADE_COLUMNS) and "is_snapshot" not in cols:
        return "trades"
    raise ValueError("columns are neither Tardis incremental_book_L2 (exchange,symbol,"
                     "timestamp,local_timestamp,is_snapshot,side,price,amount) nor trades "
                     f"(id,side,price,amount,...): {','.join(header)[:200]}")


def _first_tardis_ts(paths: list[Path]) -> int:
    for p in paths:
        with _open_text(p) as f:
            r = csv.reader(f)
            header = next(r, None)
            row = next(r, None)
        if header and row and len(row) == len(header):
            d = dict(zip(header, row))
            t = d.get("local_timestamp") or d.get("timestamp") or ""
            if _DIGITS.fullmatch(t):
                return int(t) * 1_000
    return 0


def import_tardis(root: str | Path, files: list[str | Path], *, venue: str | None = None,
                  symbol: str | None = None, flush_rows: int = 500_000,
                  compression: str = "zstd") -> ImportResult:
    """Tardis incremental_book_L2 and trades CSV files into the store (module doc). `venue`
    and `symbol` override (or stand in for absent) `exchange` and `symbol` columns."""
    paths = [Path(f) for f in files]
    for p in paths:
        if not p.is_file():
            raise ImportFormatError(f"{p}: no such file")
    result = ImportResult([str(p) for p in paths])
    st = _Staged(root, _first_tardis_ts(paths), flush_rows, compression)
    try:
        for p in paths:
            _tardis_file(st, p, venue, symbol, result)
    except BaseException:
        st.abort()
        raise
    return st.commit(result)


def _tardis_file(st: _Staged, path: Path, venue: str | None, symbol: str | None,
                 result: ImportResult) -> None:
    try:
        f = _open_text(path)
        with f:
            reader = csv.reader(f)
            try:
                header = next(reader)
            except StopIteration:
                raise ImportFormatError(f"{path}:1: empty file, expected a CSV header") from None
            try:
                kind = tardis_kind(header)
            except ValueError as e:
                raise ImportFormatError(f"{path}:1: unknown Tardis data type: {e}") from None
            need = [c for c in ("exchange", "symbol") if c not in header]
            if "exchange" in need and venue is None:
                raise ImportFormatError(f"{path}:1: no 'exchange' column: give the venue")
            if "symbol" in need and symbol is None:
                raise ImportFormatError(f"{path}:1: no 'symbol' column: give the symbol")
            if kind == "trades" and "timestamp" not in header \
                    and "local_timestamp" not in header:
                raise ImportFormatError(f"{path}:1: trades need a 'timestamp' or "
                                        "'local_timestamp' column")
            col = {c: i for i, c in enumerate(header)}
            if kind == "book":
                _tardis_book(st, reader, col, len(header), path, venue, symbol, result)
            else:
                _tardis_trades(st, reader, col, len(header), path, venue, symbol, result)
    except (UnicodeDecodeError, csv.Error, EOFError, gzip.BadGzipFile) as e:
        raise ImportFormatError(f"{path}: unreadable: {type(e).__name__}: {e}") from None


def _rows(reader, width: int, path: Path):
    for row in reader:
        where = f"{path}:{reader.line_num}"
        if not row:
            continue
        if len(row) != width:
            raise ImportFormatError(f"{where}: expected {width} fields, got {len(row)}: "
                                    f"{','.join(row)[:120]!r}")
        yield row, where


def _tardis_book(st: _Staged, reader, col: dict, width: int, path: Path, venue, symbol,
                 result: ImportResult) -> None:
    i_ex, i_sym = col.get("exchange"), col.get("symbol")
    i_ts, i_lts = col["timestamp"], col["local_timestamp"]
    i_snap, i_side, i_p, i_q = col["is_snapshot"], col["side"], col["price"], col["amount"]
    # open batches per (venue, symbol): [is_snapshot, timestamp text, ts_local, ts_ex, levels]
    open_: dict[tuple[str, str], list] = {}

    def emit(key, b):
        st.rec.on_levels(("tardis", key[1]), b[2], 0, b[4], b[0], key[0], b[3])
        result.book_rows += len(b[4])
        st.tick()

    for row, where in _rows(reader, width, path):
        v = venue or row[i_ex]
        s = symbol or row[i_sym]
        if not v or not s:
            raise ImportFormatError(f"{where}: empty exchange or symbol")
        snap_text = row[i_snap]
        if snap_text not in ("true", "false"):
            raise ImportFormatError(f"{where}: is_snapshot {snap_text!r} is not true/false")
        snap = snap_text == "true"
        side_text = row[i_side]
        if side_text == "bid":
            side = 0
        elif side_text == "ask":
            side = 1
        else:
            raise ImportFormatError(f"{where}: side {side_text!r} is not bid/ask")
        ts_text = row[i_ts]
        ts_ex = _us_to_ns(ts_text, "timestamp", where)
        ts_local = _us_to_ns(row[i_lts], "local_timestamp", where)
        level = (side, _decimal_text(row[i_p], "price", where),
                 _decimal_text(row[i_q], "amount", where))
        key = (v, s)
        b = open_.get(key)
        if b is not None and b[0] == snap and (snap or b[1] == ts_text):
            b[4].append(level)
            continue
        if b is not None:
            emit(key, b)
        open_[key] = [snap, ts_text, ts_local, ts_ex, [level]]
    for key, b in open_.items():
        emit(key, b)


def _tardis_trades(st: _Staged, reader, col: dict, width: int, path: Path, venue, symbol,
                   result: ImportResult) -> None:
    i_ex, i_sym = col.get("exchange"), col.get("symbol")
    i_ts, i_lts = col.get("timestamp"), col.get("local_timestamp")
    i_id, i_side, i_p, i_q = col["id"], col["side"], col["price"], col["amount"]
    for row, where in _rows(reader, width, path):
        v = venue or row[i_ex]
        s = symbol or row[i_sym]
        if not v or not s:
            raise ImportFormatError(f"{where}: empty exchange or symbol")
        aggressor = _AGGRESSOR.get(row[i_side])
        if aggressor is None:
            raise ImportFormatError(f"{where}: side {row[i_side]!r} is not buy/sell/unknown")
        ts_ex = _us_to_ns(row[i_ts], "timestamp", where) if i_ts is not None else 0
        ts_local = _us_to_ns(row[i_lts], "local_timestamp", where) if i_lts is not None \
            else ts_ex
        st.rec.on_trade(Trade(v, s, _decimal_text(row[i_p], "price", where),
                              _decimal_text(row[i_q], "amount", where), aggressor, row[i_id],
                              ts_ex, ts_local))
        result.trade_rows += 1
        st.tick()


# -- Kraken REST trades ----------------------------------------------------------------------
def _seconds_ns(t: object, where: str) -> int:
    if isinstance(t, bool) or not isinstance(t, (int, Decimal)) or t < 0:
        raise ImportFormatError(f"{where}: time {t!r} is not seconds since the epoch")
    return int(Decimal(t) * 1_000_000_000)


def import_kraken_rest_trades(root: str | Path, path: str | Path, *,
                              symbol: str | None = None, compression: str = "zstd"
                              ) -> ImportResult:
    """A Kraken REST Trades response (plain or gzip JSON) into the store (module doc). The
    pair key of the response is the symbol unless `symbol` is given; times are read as exact
    decimals (a float would lose the sub-microsecond digits)."""
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"{path}: no such file")
    try:
        with _open_text(path) as f:
            doc = json.loads(f.read(), parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError, EOFError, gzip.BadGzipFile) as e:
        raise ImportFormatError(f"{path}: not a JSON document: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("result"), dict):
        raise ImportFormatError(f"{path}: no 'result' object (a Kraken REST Trades response "
                                "is {\"error\": [], \"result\": {PAIR: [...], \"last\": ...}})")
    if doc.get("error"):
        raise ImportFormatError(f"{path}: Kraken returned errors {doc['error']!r:.200}")
    pairs = {k: v for k, v in doc["result"].items() if k != "last"}
    if not pairs:
        raise ImportFormatError(f"{path}: the response holds no pair")
    rows = [t for v in pairs.values() if isinstance(v, list) for t in v]
    first = rows[0][2] if rows and isinstance(rows[0], list) and len(rows[0]) > 2 else 0
    result = ImportResult([str(path)])
    st = _Staged(root, _seconds_ns(first, str(path)) if first else 0, 500_000, compression)
    try:
        for pair, trades in pairs.items():
            if not isinstance(trades, list):
                raise ImportFormatError(f"{path}: result.{pair} is not a list of trades")
            for i, t in enumerate(trades):
                where = f"{path}: result.{pair}[{i}]"
                if not (isinstance(t, list) and len(t) >= 7):
                    raise ImportFormatError(f"{where}: {t!r:.80} is not [price, volume, time, "
                                            "side, type, misc, trade_id]")
                price, volume, when, side, tid = t[0], t[1], t[2], t[3], t[6]
                if not (isinstance(price, str) and _PLAIN.fullmatch(price)
                        and isinstance(volume, str) and _PLAIN.fullmatch(volume)):
                    raise ImportFormatError(f"{where}: price {price!r} / volume {volume!r} "
                                            "are not decimal text")
                if side not in ("b", "s"):
                    raise ImportFormatError(f"{where}: side {side!r} is not 'b' or 's'")
                ts = _seconds_ns(when, where)
                st.rec.on_trade(Trade("kraken", symbol or pair, price, volume,
                                      BUY if side == "b" else SELL, str(tid), ts, ts, True))
                result.trade_rows += 1
    except BaseException:
        st.abort()
        raise
    return st.commit(result)
