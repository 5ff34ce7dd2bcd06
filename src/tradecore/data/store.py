"""The Parquet store of recorded market data: schemas, layout, atomic writes, file listing.

Layout (hive-style directories, one closed Parquet file per flush)::

    ROOT/<kind>/venue=<venue>/symbol=<symbol>/date=<YYYY-MM-DD>/part-<start ns>-<seq>.parquet

* kind is "book" (L2 level changes) or "trades";
* the date is the UTC date of `ts_local_ns`, and a file holds the rows of one date only;
* `<start ns>` is the smallest `ts_local_ns` in the file, `<seq>` the writer's file counter;
* the symbol in the path is sanitised (`BTC/USD` -> `BTC-USD`, anything but letters, digits,
  `.`, `_`, `-` becomes `-`); the `symbol` column keeps the exchange's name, and readers filter
  on the column too, so two symbols that sanitise alike never mix.

Book rows (BOOK_SCHEMA): one row per level, prices and sizes as the exchange's exact decimal
text. `batch` groups the levels of one exchange message or snapshot, which replay applies as
one all-or-nothing batch, and orders the batches: a writer numbers its batches from a base
(the recorder's start time in ns, or an import's first timestamp) upwards in the order they
were applied. Batch order, not `ts_local_ns`, is apply order: Binance diffs that arrived
before their REST snapshot are applied after it, with their own (earlier) receive times.
`is_snapshot` batches replace the book; a snapshot of an empty book is stored as one row with
side -1 and empty price and size (EMPTY_SNAPSHOT), since a batch must have a row.
`ts_exchange_ns` is 0 when the source has none.

Every file is written to `<name>.tmp` beside its final name and `os.replace`d into place once
complete (and fsynced), so readers only ever see whole files; a `.tmp` left by a killed writer
is ignored by every reader here (and by DuckDB's `*.parquet` globs).

Readers never use the hive directories as columns (the `symbol` column is the truth); they use
them only to skip files: `files()` walks the layout and prunes by venue, symbol, date and the
start ns in the file name.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

NS_PER_DAY = 86_400_000_000_000
_DICT = pa.dictionary(pa.int32(), pa.string())

BOOK = "book"
TRADES = "trades"

BOOK_SCHEMA = pa.schema([
    ("ts_local_ns", pa.int64()),
    ("ts_exchange_ns", pa.int64()),
    ("venue", _DICT),
    ("symbol", _DICT),
    ("conn", _DICT),
    ("seq", pa.int64()),
    ("side", pa.int8()),            # 0 bid, 1 ask (-1: the row of an empty snapshot)
    ("price", pa.string()),         # exact decimal text
    ("size", pa.string()),          # exact decimal text, "0" (any zero) deletes
    ("is_snapshot", pa.bool_()),
    ("batch", pa.int64()),
])

TRADE_SCHEMA = pa.schema([
    ("ts_local_ns", pa.int64()),
    ("ts_exchange_ns", pa.int64()),
    ("venue", _DICT),
    ("symbol", _DICT),
    ("price", pa.string()),
    ("size", pa.string()),
    ("aggressor", pa.int8()),       # 1 taker bought, -1 taker sold, 0 unknown
    ("trade_id", pa.string()),
    ("backfilled", pa.bool_()),
])

SCHEMAS = {BOOK: BOOK_SCHEMA, TRADES: TRADE_SCHEMA}
EMPTY_SNAPSHOT = [(-1, "", "")]     # the one row of a snapshot batch of an empty book

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_PART = re.compile(r"part-(\d+)-(\d+)\.parquet")


class StoreError(ValueError):
    """A bad request to the store (unknown kind, bad names) or an unreadable store file."""


def check_kind(kind: str) -> dict:
    if kind not in SCHEMAS:
        raise StoreError(f"unknown store kind {kind!r}; expected one of {', '.join(SCHEMAS)}")
    return SCHEMAS[kind]


def path_name(name: str) -> str:
    """A venue or symbol as a directory name: 'BTC/USD' -> 'BTC-USD'."""
    if not isinstance(name, str) or not name:
        raise StoreError(f"venue/symbol {name!r} must be non-empty text")
    safe = _UNSAFE.sub("-", name)
    return "_" + safe if safe in (".", "..") else safe


def day_of(ts_ns: int) -> int:
    """UTC day number (days since the epoch) of a ns timestamp."""
    return ts_ns // NS_PER_DAY


def date_text(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, timezone.utc).strftime("%Y-%m-%d")


def _date_day(text: str) -> int | None:
    try:
        d = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return int(d.timestamp()) // 86_400


def partition_dir(root: str | Path, kind: str, venue: str, symbol: str, day: int) -> Path:
    check_kind(kind)
    return (Path(root) / kind / f"venue={path_name(venue)}" / f"symbol={path_name(symbol)}"
            / f"date={date_text(day)}")


def write_atomic(path: Path, table: pa.Table, *, compression: str = "zstd",
                 fsync: bool = True) -> int:
    """Write `table` as one complete Parquet file at `path`, via `path.tmp` and os.replace;
    returns the file's size. A failure removes the .tmp and leaves nothing visible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            pq.write_table(table, f, compression=compression)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
            size = f.tell()
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    if fsync:
        try:
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:       # directories cannot be fsynced on every platform
            pass
    return size


def part_path(root: str | Path, kind: str, venue: str, symbol: str, start_ns: int,
              seq: int) -> Path:
    return partition_dir(root, kind, venue, symbol, day_of(start_ns)) / \
        f"part-{start_ns}-{seq}.parquet"


def _subdirs(parent: Path, key: str, want: str | None) -> list[Path]:
    if want is not None:
        p = parent / f"{key}={path_name(want)}"
        return [p] if p.is_dir() else []
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.iterdir() if p.is_dir() and p.name.startswith(key + "="))


def files(root: str | Path, kind: str, venue: str | None = None, symbol: str | None = None,
          start_ns: int | None = None, end_ns: int | None = None) -> list[Path]:
    """The visible Parquet files that may hold rows of kind/venue/symbol with
    start_ns <= ts_local_ns <= end_ns, ordered by (start ns in the name, seq)."""
    check_kind(kind)
    lo = day_of(start_ns) if start_ns is not None else None
    hi = day_of(end_ns) if end_ns is not None else None
    out: list[tuple[int, int, str, Path]] = []
    for vdir in _subdirs(Path(root) / kind, "venue", venue):
        for sdir in _subdirs(vdir, "symbol", symbol):
            for ddir in _subdirs(sdir, "date", None):
                day = _date_day(ddir.name[5:])
                if day is None or (lo is not None and day < lo) or (hi is not None and day > hi):
                    continue
                for f in ddir.iterdir():
                    m = _PART.fullmatch(f.name)
                    if m is None:
                        continue            # *.tmp of a writer at work or killed, strangers
                    start, seq = int(m.group(1)), int(m.group(2))
                    if end_ns is not None and start > end_ns:
                        continue
                    out.append((start, seq, str(f), f))
    out.sort()
    return [p for *_, p in out]


def dataset(paths: Iterable[Path], kind: str) -> ds.Dataset:
    """A pyarrow dataset over store files (no hive columns: the file columns are the truth)."""
    return ds.dataset([str(p) for p in paths], schema=check_kind(kind), format="parquet")


def read(root: str | Path, kind: str, venue: str | None = None, symbol: str | None = None, *,
         start_ns: int | None = None, end_ns: int | None = None, conn: str | None = None,
         columns: list[str] | None = None, extra_filter: pc.Expression | None = None) -> pa.Table:
    """Rows of one kind, filtered by venue, symbol (exact names), ts_local_ns range
    (inclusive) and, for the book, connection. Rows come in file order (start ns, seq), then
    row order; sort them as the use needs (book: by batch, see replay)."""
    paths = files(root, kind, venue, symbol, start_ns, end_ns)
    schema = check_kind(kind)
    if not paths:
        return schema.empty_table() if columns is None else \
            pa.schema([schema.field(c) for c in columns]).empty_table()
    f = None

    def both(a, b):
        return b if a is None else a & b
    if venue is not None:
        f = both(f, pc.field("venue") == venue)
    if symbol is not None:
        f = both(f, pc.field("symbol") == symbol)
    if conn is not None:
        if kind != BOOK:
            raise StoreError("only the book has connections")
        f = both(f, pc.field("conn") == conn)
    if start_ns is not None:
        f = both(f, pc.field("ts_local_ns") >= start_ns)
    if end_ns is not None:
        f = both(f, pc.field("ts_local_ns") <= end_ns)
    if extra_filter is not None:
        f = both(f, extra_filter)
    try:
        return dataset(paths, kind).to_table(columns=columns, filter=f)
    except (pa.ArrowInvalid, OSError) as e:
        raise StoreError(f"cannot read the {kind} store under {root}: {e}") from e


def venues_symbols(root: str | Path, kind: str) -> dict[str, list[str]]:
    """Partition directory names present: venue -> [symbol (as in paths)]."""
    check_kind(kind)
    out: dict[str, list[str]] = {}
    for vdir in _subdirs(Path(root) / kind, "venue", None):
        out[vdir.name[6:]] = [s.name[7:] for s in _subdirs(vdir, "symbol", None)]
    return out


def clean_tmp(root: str | Path, older_than_s: float = 3600.0) -> int:
    """Delete `*.tmp` files a killed writer left behind (older than `older_than_s`, so a
    writer at work is not disturbed); returns how many were removed."""
    import time

    cutoff = time.time() - older_than_s
    n = 0
    for kind in SCHEMAS:
        base = Path(root) / kind
        if not base.is_dir():
            continue
        for p in base.rglob("*.tmp"):
            try:
                if p.stat().st_mtime < cutoff:
                    p.unlink()
                    n += 1
            except FileNotFoundError:
                pass
    return n
