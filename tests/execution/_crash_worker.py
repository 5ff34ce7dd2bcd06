"""A trading process for the crash test: recovers from its journal, then trades as fast as it can
against a venue that keeps its own state in SQLite, until it is killed with SIGKILL.

    python _crash_worker.py <journal> <venue.db> <seed> <phase>

The venue behaves like an exchange: every change (order accepted, fill, cancel) is committed to
its database first and only then queued for delivery to the engine, so a kill can land between
the venue doing something and the engine hearing of it; the journal and reconciliation must
make up for it. `DiskVenue` is also what the test process uses to reconcile after the kill.
"""
from __future__ import annotations

import asyncio
import random
import sqlite3
import sys
import time
from collections import deque

from tradecore.core.clock import LiveClock
from tradecore.core.orders import Fill, Order, OrderStatus, OrderType, Side
from tradecore.execution.venue import VenueClient, VenueOrderState

S = OrderStatus
_OPEN = (int(S.ACCEPTED), int(S.PARTIALLY_FILLED))


class DiskVenue(VenueClient):
    def __init__(self, name: str, db_path: str, seed: int) -> None:
        self.name = name
        self.db = sqlite3.connect(db_path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")       # a process kill loses nothing committed
        self.db.execute("CREATE TABLE IF NOT EXISTS orders (cid TEXT PRIMARY KEY, vid TEXT, "
                        "symbol TEXT, side INT, type INT, qty INT, price INT, filled INT, "
                        "status INT)")
        self.db.execute("CREATE TABLE IF NOT EXISTS fills (trade_id TEXT PRIMARY KEY, cid TEXT, "
                        "symbol TEXT, side INT, qty INT, price INT, fee REAL, ts INT)")
        self.pending: deque = deque()
        self.rng = random.Random(seed)
        self.listener = None

    def set_listener(self, listener) -> None:
        self.listener = listener

    # -- order entry: commit, then queue the answer ---------------------------------------
    def submit(self, o: Order) -> None:
        vid = "V-" + o.client_order_id
        self.db.execute("INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?)",
                        (o.client_order_id, vid, o.symbol, int(o.side), int(o.type), o.qty,
                         o.price, 0, int(S.ACCEPTED)))
        self.pending.append(("ack", o.client_order_id, vid))
        if o.type is OrderType.MARKET:
            left = o.qty
            while left:
                q = min(left, self.rng.randint(1, o.qty))
                self._fill(o.client_order_id, q, 10000 + self.rng.randint(-50, 50))
                left -= q

    def cancel(self, o: Order) -> None:
        cur = self.db.execute("UPDATE orders SET status=? WHERE cid=? AND status IN (?,?)",
                              (int(S.CANCELED), o.client_order_id, *_OPEN))
        if cur.rowcount:
            self.pending.append(("canceled", o.client_order_id))
        else:
            self.pending.append(("cancel_rejected", o.client_order_id))

    def step(self) -> None:
        """Resting limit orders trade now and then."""
        rows = self.db.execute("SELECT cid, qty, filled, price FROM orders WHERE status IN (?,?)",
                               _OPEN).fetchall()
        for cid, qty, filled, price in rows:
            if self.rng.random() < 0.3:
                self._fill(cid, self.rng.randint(1, qty - filled), price)

    def _fill(self, cid: str, q: int, price: int) -> None:
        side, symbol, qty, filled = self.db.execute(
            "SELECT side, symbol, qty, filled FROM orders WHERE cid=?", (cid,)).fetchone()
        n = self.db.execute("SELECT COUNT(*) FROM fills WHERE cid=?", (cid,)).fetchone()[0]
        tid = f"{cid}#{n + 1}"
        ts = time.time_ns()
        fee = round(q * 0.0001, 8)
        status = int(S.FILLED) if filled + q == qty else int(S.PARTIALLY_FILLED)
        self.db.execute("BEGIN")
        self.db.execute("INSERT INTO fills VALUES (?,?,?,?,?,?,?,?)",
                        (tid, cid, symbol, side, q, price, fee, ts))
        self.db.execute("UPDATE orders SET filled=filled+?, status=? WHERE cid=?",
                        (q, status, cid))
        self.db.execute("COMMIT")
        self.pending.append(("fill", Fill(cid, self.name, symbol, Side(side), q, price, fee,
                                          "taker", tid, ts)))

    def pump(self) -> None:
        """Deliver the queued answers (what a socket would carry to the engine)."""
        L = self.listener
        while self.pending:
            ev = self.pending.popleft()
            k = ev[0]
            if k == "ack":
                L.on_order_accepted(ev[1], ev[2], time.time_ns())
            elif k == "fill":
                L.on_fill(ev[1])
            elif k == "canceled":
                L.on_order_canceled(ev[1], "", time.time_ns())
            else:
                L.on_cancel_rejected(ev[1], "not open", time.time_ns())

    # -- reconciliation ------------------------------------------------------------------
    async def open_orders(self) -> list[VenueOrderState]:
        rows = self.db.execute("SELECT cid, vid, symbol, side, type, qty, price, filled, status "
                               "FROM orders WHERE status IN (?,?)", _OPEN).fetchall()
        return [VenueOrderState(c, v, s, Side(sd), OrderType(t), q, p, f, S(st))
                for c, v, s, sd, t, q, p, f, st in rows]

    async def fills_since(self, ts_ns: int) -> list[Fill]:
        rows = self.db.execute("SELECT trade_id, cid, symbol, side, qty, price, fee, ts "
                               "FROM fills WHERE ts >= ?", (ts_ns,)).fetchall()
        return [Fill(c, self.name, s, Side(sd), q, p, fee, "taker", t, ts)
                for t, c, s, sd, q, p, fee, ts in rows]


def build(journal_path: str, db_path: str, seed: int):
    from _oms_fakes import INSTRUMENTS, FakeGate
    from tradecore.execution.engine import ExecutionEngine
    from tradecore.execution.journal import Journal
    from tradecore.execution.recovery import Recovery
    venue = DiskVenue("test", db_path, seed)
    journal = Journal(journal_path)
    eng = ExecutionEngine(FakeGate(), {"test": venue}, journal, LiveClock(), INSTRUMENTS)
    report = asyncio.run(Recovery(eng, journal_path, unknown_orders="adopt").run())
    return eng, venue, journal, report


def main() -> None:
    journal_path, db_path, seed, phase = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    eng, venue, journal, _ = build(journal_path, db_path, seed)
    rng = random.Random(seed * 7 + 1)
    print("ready", flush=True)
    for i in range(10**6):
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        qty = rng.randint(1, 50)
        if rng.random() < 0.4:
            o = Order(f"{phase}-{i}", "test", "BTCUSDT", side, OrderType.MARKET, qty)
        else:
            o = Order(f"{phase}-{i}", "test", "BTCUSDT", side, OrderType.LIMIT, qty,
                      10000 + rng.randint(-20, 20))
        eng.submit(o)
        if rng.random() < 0.5:
            venue.pump()
        venue.step()
        if rng.random() < 0.2 and eng.oms.open:
            eng.cancel(rng.choice(list(eng.oms.open)))
        if rng.random() < 0.5:
            venue.pump()


if __name__ == "__main__":
    main()
