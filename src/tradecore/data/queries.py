"""Queries over the Parquet store: DuckDB for aggregates, replay for book states.

* `candles(root, venue, symbol, interval)`: OHLCV bars from the recorded trades, in exact
  decimal arithmetic: prices and sizes are cast from their text to DECIMAL(38, s) with s the
  most decimals present, so volume and notional are exact sums (no float anywhere). Bars are
  stamped with their open time in ns on the exchange clock (`ts_exchange_ns`, or the local
  clock for trades without one); only intervals with trades get a bar, like the exchanges'
  own OHLCVT files. open/close are the first/last trade by (time, local time, store order).
  vwap = notional / volume rounded half-even to 8 more decimals than the prices.
* `book_snapshot(root, venue, symbol, at_ns, depth)`: the top levels at a local time, by
  replaying the book from the last snapshot at or before `at_ns` (replay.replay_books: a scan
  of three columns finds that snapshot; the cost is the data since it). SQL cannot rebuild a
  book (a level's state is the last update of its price since the last snapshot, with the
  grid and apply-order rules of replay), and replay is the one implementation of those rules.
* `connect(root)`: a DuckDB connection with views `book` and `trades` over the store, for
  ad-hoc SQL (e.g. `SELECT symbol, count(*) FROM trades GROUP BY 1`).
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from tradecore.data.store import BOOK, NS_PER_DAY, TRADES, StoreError, files

_INTERVAL = re.compile(r"([1-9][0-9]*)(s|m|h|d)")
_UNIT_NS = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": NS_PER_DAY}
VWAP_EXTRA_DECIMALS = 8


def interval_ns(interval: str) -> int:
    """'1s' '1m' '5m' '1h' '1d' ... -> ns."""
    m = _INTERVAL.fullmatch(interval) if isinstance(interval, str) else None
    if m is None:
        raise ValueError(f"interval {interval!r} is not <n><unit> with unit s, m, h or d "
                         "(e.g. 1m, 5m, 1h)")
    return int(m.group(1)) * _UNIT_NS[m.group(2)]


def _decimals_sql(col: str) -> str:
    return (f"max(CASE WHEN strpos({col}, '.') > 0 THEN length({col}) - strpos({col}, '.') "
            f"ELSE 0 END)")


def _empty_candles(pd: int = 0, sd: int = 0) -> pa.Table:
    return pa.schema([
        ("open_time_ns", pa.int64()), ("open", pa.decimal128(38, pd)),
        ("high", pa.decimal128(38, pd)), ("low", pa.decimal128(38, pd)),
        ("close", pa.decimal128(38, pd)), ("volume", pa.decimal128(38, sd)),
        ("notional", pa.decimal128(38, min(38, pd + sd))),
        ("vwap", pa.decimal128(38, pd + VWAP_EXTRA_DECIMALS)), ("trades", pa.int64()),
    ]).empty_table()


def _sql_list(paths) -> str:
    """A SQL list literal of file paths (quotes doubled)."""
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def candles(root: str | Path, venue: str, symbol: str, interval: str = "1m",
            start: int | None = None, end: int | None = None) -> pa.Table:
    """OHLCV bars of one symbol's trades with start <= time < end (ns; align them to the
    interval for whole bars). Columns: open_time_ns, open, high, low, close, volume,
    notional (sum of price x size), vwap, trades (count); decimals exact (module doc)."""
    iv = interval_ns(interval)
    # files are partitioned by local time; exchange time differs by far less than a day
    paths = files(root, TRADES, venue, symbol,
                  None if start is None else start - NS_PER_DAY,
                  None if end is None else end + NS_PER_DAY)
    if not paths:
        return _empty_candles()
    where = ["venue = $venue", "symbol = $symbol"]
    params: dict = {"venue": venue, "symbol": symbol}
    if start is not None:
        where.append("ts >= $start")
        params["start"] = int(start)
    if end is not None:
        where.append("ts < $end")
        params["end"] = int(end)
    trades_sql = f"""
        t AS (SELECT * FROM (
            SELECT CASE WHEN ts_exchange_ns <> 0 THEN ts_exchange_ns ELSE ts_local_ns END
                   AS ts, ts_local_ns, price, size, venue::VARCHAR AS venue,
                   symbol::VARCHAR AS symbol, f.fidx, file_row_number
            FROM read_parquet({_sql_list(paths)}, filename = true, file_row_number = true,
                              hive_partitioning = false) AS r
            JOIN (SELECT unnest({_sql_list(paths)}) AS filename,
                         generate_subscripts({_sql_list(paths)}, 1) AS fidx) AS f
              USING (filename))
          WHERE {' AND '.join(where)})"""
    con = duckdb.connect()
    try:
        pd, sd, n = con.sql(f"WITH {trades_sql} SELECT {_decimals_sql('price')}, "
                            f"{_decimals_sql('size')}, count(*) FROM t",
                            params=params).fetchall()[0]
        if not n:
            return _empty_candles()
        pd, sd = int(pd), int(sd)
        if pd + sd > 38:
            raise StoreError(f"{venue} {symbol}: prices with {pd} and sizes with {sd} "
                             "decimals exceed DECIMAL(38)")
        table = con.sql(f"""
            WITH {trades_sql}
            SELECT (ts // {iv}) * {iv} AS open_time_ns,
                   arg_min(p, (ts, ts_local_ns, fidx, file_row_number)) AS open,
                   max(p) AS high, min(p) AS low,
                   arg_max(p, (ts, ts_local_ns, fidx, file_row_number)) AS close,
                   sum(q) AS volume, sum(p * q) AS notional, count(*) AS trades
            FROM (SELECT ts, ts_local_ns, fidx, file_row_number,
                         CAST(price AS DECIMAL(38, {pd})) AS p,
                         CAST(size AS DECIMAL(38, {sd})) AS q FROM t)
            GROUP BY 1 ORDER BY 1""", params=params).to_arrow_table()
    except duckdb.Error as e:
        raise StoreError(f"candles of {venue} {symbol} from {root}: {e}") from e
    finally:
        con.close()
    quantum = Decimal(1).scaleb(-(pd + VWAP_EXTRA_DECIMALS))
    vwap = [None if not v else (x / v).quantize(quantum, ROUND_HALF_EVEN)
            for x, v in zip(table.column("notional").to_pylist(),
                            table.column("volume").to_pylist())]
    table = table.append_column("vwap", pa.array(vwap, pa.decimal128(38, pd + VWAP_EXTRA_DECIMALS)))
    cols = ["open_time_ns", "open", "high", "low", "close", "volume", "notional", "vwap",
            "trades"]
    return table.select(cols).cast(_empty_candles(pd, sd).schema)


def book_snapshot(root: str | Path, venue: str, symbol: str, at_ns: int, depth: int = 10, *,
                  conn: str | None = None) -> dict:
    """The book of one symbol as it stood at local time `at_ns`: its best `depth` levels a
    side as exact decimal text (on the book's grid), with the time, sequence and validity of
    its last update (module doc: by replay from the last snapshot before at_ns)."""
    from tradecore.data.replay import book_levels, replay_books

    book = replay_books(root, venue, symbol, at_ns, conn=conn)
    out = {"venue": venue, "symbol": symbol, "at_ns": at_ns, "ts_local_ns": int(book.ts_ns),
           "seq": int(book.seq), "valid": bool(book.valid)}
    out.update(book_levels(book, depth))
    return out


def connect(root: str | Path) -> duckdb.DuckDBPyConnection:
    """DuckDB with views `book` and `trades` over every file of the store (views only for
    kinds that have files)."""
    con = duckdb.connect()
    for kind in (BOOK, TRADES):
        paths = [str(p) for p in files(root, kind)]
        if paths:
            con.execute(f"CREATE VIEW {kind} AS SELECT * FROM read_parquet({_sql_list(paths)}, "
                        "hive_partitioning = false)")
    return con
