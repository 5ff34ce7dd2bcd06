"""Positions per (venue, symbol) and balances per (venue, asset), built from fills only.

A position is a net signed quantity in integer lots (so it returns to exactly 0 when closed),
an average entry price, and realized PnL in quote currency. Accounting rules (written here
because PnL numbers are only comparable when the rules are):

- Average cost: adding to a position moves the average entry to the lot-weighted mean of the old
  average and the fill price; reducing it leaves the average unchanged and realizes
  (fill price - average) x closed quantity x direction.
- A fill that crosses zero (long 3, sell 5) is exactly two steps: close the 3 at the old
  average (realizing PnL), then open short 2 at the fill price. The fee of such a fill is
  charged once, in full, to realized PnL at the fill.
- Fees are always in quote currency and always reduce realized PnL (a negative fee, a maker
  rebate, increases it). `realized_pnl` is net of fees; `fees` keeps their sum;
  `gross_realized_pnl` is realized PnL before fees.
- Unrealized PnL is (mark - average) x quantity x direction, for the last mark given.

Balances are the spot-account view of the same fills: a buy adds the base quantity and takes
notional + fee from the quote asset; a sell the reverse. They start from `set_balance` (e.g. the
venue's account after a restart). `equity(quote)` values every balance of that quote currency's
world at the last marks (quote asset at 1, a base asset at its instrument's mark).
"""
from __future__ import annotations

from tradecore.core.instrument import Instrument
from tradecore.core.orders import Fill

__all__ = ["Position", "Portfolio", "UnknownInstrument"]


class UnknownInstrument(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; say it plainly
        return str(self.args[0])


class Position:
    """The net position in one instrument on one venue."""

    __slots__ = ("inst", "venue", "symbol", "lots", "avg_price", "realized_pnl", "fees",
                 "mark", "n_fills", "ts_last_ns")

    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        self.venue = inst.venue
        self.symbol = inst.symbol
        self.lots = 0                 # signed: > 0 long, < 0 short
        self.avg_price = 0.0          # quote per base unit; 0.0 when flat
        self.realized_pnl = 0.0       # net of fees
        self.fees = 0.0
        self.mark = 0.0               # 0.0 until marked
        self.n_fills = 0
        self.ts_last_ns = 0

    @property
    def gross_realized_pnl(self) -> float:
        return self.realized_pnl + self.fees

    @property
    def qty(self) -> float:
        """Signed quantity in base units."""
        return self.inst.qty(self.lots)

    @property
    def is_flat(self) -> bool:
        return self.lots == 0

    def unrealized_pnl(self, mark: float | None = None) -> float:
        m = self.mark if mark is None else mark
        if self.lots == 0 or m == 0.0:
            return 0.0
        return (m - self.avg_price) * self.inst.qty(self.lots)

    def apply(self, side: int, lots: int, price_ticks: int, fee: float, ts_ns: int = 0) -> float:
        """Apply one execution; return the realized PnL it made (net of its fee)."""
        if lots <= 0:
            raise ValueError(f"{self.venue}:{self.symbol}: fill quantity {lots} lots must be > 0")
        if side not in (1, -1):
            raise ValueError(f"{self.venue}:{self.symbol}: side {side!r} must be +1 or -1")
        px = self.inst.price(price_ticks)
        cur = self.lots
        realized = 0.0
        if cur == 0 or (cur > 0) == (side > 0):
            # open or add: lot-weighted average (lots cancel the lot size, so ints suffice)
            n = abs(cur)
            self.avg_price = (self.avg_price * n + px * lots) / (n + lots)
            self.lots = cur + side * lots
        else:
            closed = min(lots, abs(cur))
            direction = 1 if cur > 0 else -1
            realized = (px - self.avg_price) * self.inst.qty(closed) * direction
            rest = lots - closed
            self.lots = cur + side * closed
            if self.lots == 0:
                self.avg_price = 0.0
            if rest:
                # crossed zero: the remainder opens a new position at the fill price
                self.lots = side * rest
                self.avg_price = px
        realized -= fee
        self.realized_pnl += realized
        self.fees += fee
        self.n_fills += 1
        if ts_ns:
            self.ts_last_ns = ts_ns
        return realized

    def __repr__(self) -> str:
        return (f"Position({self.venue}:{self.symbol} lots={self.lots} avg={self.avg_price} "
                f"realized={self.realized_pnl} fees={self.fees})")


class Portfolio:
    """Every position and balance of the process, from fills."""

    def __init__(self, instruments: dict[tuple[str, str], Instrument]) -> None:
        self._instruments = instruments
        self._positions: dict[tuple[str, str], Position] = {}
        self._balances: dict[tuple[str, str], float] = {}

    # -- positions --------------------------------------------------------------------
    def position(self, venue: str, symbol: str) -> Position:
        key = (venue, symbol)
        p = self._positions.get(key)
        if p is None:
            inst = self._instruments.get(key)
            if inst is None:
                raise UnknownInstrument(f"no instrument {venue}:{symbol} in the portfolio's "
                                        f"instruments (known: {sorted(self._instruments)})")
            p = self._positions[key] = Position(inst)
        return p

    @property
    def positions(self) -> dict[tuple[str, str], Position]:
        return self._positions

    def lots(self, venue: str, symbol: str) -> int:
        p = self._positions.get((venue, symbol))
        return p.lots if p is not None else 0

    def apply_fill(self, fill: Fill) -> Position:
        """Apply a fill to its position and its balances. Not idempotent by itself: the OMS
        makes sure each (venue, trade_id) reaches here once."""
        p = self.position(fill.venue, fill.symbol)
        p.apply(int(fill.side), fill.qty, fill.price, fill.fee, fill.ts_ns)
        inst = p.inst
        if inst.base and inst.quote:
            b = self._balances
            kb, kq = (fill.venue, inst.base), (fill.venue, inst.quote)
            sgn = int(fill.side)
            b[kb] = b.get(kb, 0.0) + sgn * inst.qty(fill.qty)
            b[kq] = b.get(kq, 0.0) - sgn * inst.notional(fill.price, fill.qty) - fill.fee
        return p

    def mark(self, venue: str, symbol: str, price: float) -> None:
        p = self._positions.get((venue, symbol))
        if p is None:
            if (venue, symbol) not in self._instruments:
                return
            p = self.position(venue, symbol)
        p.mark = price

    # -- balances ---------------------------------------------------------------------
    def set_balance(self, venue: str, asset: str, amount: float) -> None:
        self._balances[(venue, asset)] = float(amount)

    def balance(self, venue: str, asset: str) -> float:
        return self._balances.get((venue, asset), 0.0)

    @property
    def balances(self) -> dict[tuple[str, str], float]:
        return self._balances

    # -- totals -----------------------------------------------------------------------
    def realized_pnl(self) -> float:
        return sum(p.realized_pnl for p in self._positions.values())

    def unrealized_pnl(self) -> float:
        return sum(p.unrealized_pnl() for p in self._positions.values())

    def fees(self) -> float:
        return sum(p.fees for p in self._positions.values())

    def equity(self, quote: str) -> float:
        """Value of every balance in `quote`: the quote asset at 1, a base asset at the mark of
        an instrument (same venue) that prices it in `quote`. A non-zero balance that cannot be
        priced is an error naming it (a silently omitted asset would understate equity)."""
        total = 0.0
        for (venue, asset), amount in self._balances.items():
            if asset == quote:
                total += amount
                continue
            if amount == 0.0:
                continue
            for inst in self._instruments.values():
                if inst.venue == venue and inst.base == asset and inst.quote == quote:
                    p = self._positions.get(inst.key)
                    if p is not None and p.mark:
                        total += amount * p.mark
                        break
            else:
                raise ValueError(f"equity in {quote}: balance {venue}:{asset} = {amount} has no "
                                 f"marked {asset}/{quote} instrument on {venue} to value it")
        return total
