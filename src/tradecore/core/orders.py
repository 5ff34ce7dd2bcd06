"""Order vocabulary shared by strategies, the risk gate, the OMS and every venue.

The integer values of the enums are a contract with the compiled risk gate (`_fast/riskgate.pxd`
mirrors them) and with the journal (they are stored as integers): never renumber, only append.

Units: `price`, `trigger_price` and `trail_ticks` are ticks and `qty`/`filled_qty` lots of the
order's `Instrument` (core/instrument.py); money (avg price, fees, PnL) is float quote currency.
Times are int64 ns since the epoch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from tradecore.core.events import BUY, SELL

__all__ = ["BUY", "SELL", "Side", "OrderType", "TimeInForce", "OrderStatus", "TradingState",
           "DenyReason", "Order", "Fill", "OrderEvent", "TERMINAL", "OPEN"]


class Side(IntEnum):
    BUY = BUY      # +1: signs multiply quantities into positions
    SELL = SELL    # -1


class OrderType(IntEnum):
    MARKET = 0
    LIMIT = 1
    STOP_MARKET = 2        # market order once the trigger trades through
    STOP_LIMIT = 3         # limit order at `price` once the trigger trades through
    TAKE_PROFIT = 4        # market order once price reaches the (favourable) trigger
    TAKE_PROFIT_LIMIT = 5
    TRAILING_STOP = 6      # stop-market whose trigger trails the best price by trail_ticks


class TimeInForce(IntEnum):
    GTC = 0
    IOC = 1
    FOK = 2
    GTD = 3                # good till `expire_ns`


class OrderStatus(IntEnum):
    INITIALIZED = 0        # created, not yet through the risk gate
    DENIED = 1             # refused by the risk gate; never left the process
    SUBMITTED = 2          # sent to the venue, no answer yet
    ACCEPTED = 3           # working at the venue
    PARTIALLY_FILLED = 4
    FILLED = 5
    PENDING_CANCEL = 6     # cancel sent, no answer yet
    CANCELED = 7
    REJECTED = 8           # refused by the venue
    EXPIRED = 9            # IOC/FOK remainder, GTD expiry
    TRIGGERED = 10         # a stop/take-profit whose trigger fired; now working as its child


TERMINAL = frozenset({OrderStatus.DENIED, OrderStatus.FILLED, OrderStatus.CANCELED,
                      OrderStatus.REJECTED, OrderStatus.EXPIRED})
OPEN = frozenset({OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED,
                  OrderStatus.PENDING_CANCEL, OrderStatus.TRIGGERED})


class TradingState(IntEnum):
    ACTIVE = 0             # trading enabled
    REDUCING = 1           # only orders that reduce an open position pass
    HALTED = 2             # nothing but cancels


class DenyReason(IntEnum):
    """Why the risk gate refused an order: each is counted and named in the OrderDenied event."""
    NONE = 0
    HALTED = 1
    REDUCING_ONLY = 2           # trading state REDUCING and the order would add exposure
    RECONCILING = 3             # recovery has not finished reconciling with the venue
    UNKNOWN_INSTRUMENT = 4
    BAD_QUANTITY = 5            # <= 0, below the minimum, off the lot grid
    BAD_PRICE = 6               # <= 0 or off the tick grid for a priced order
    PRICE_BAND = 7              # fat finger: too far from the current mid
    NO_MARKET_DATA = 8          # no mid to check the band against (book invalid or stale)
    MAX_ORDER_QTY = 9
    MAX_ORDER_NOTIONAL = 10
    MIN_NOTIONAL = 11
    MAX_POSITION = 12           # per-symbol position limit
    MAX_SYMBOL_EXPOSURE = 13    # per-symbol notional exposure
    MAX_GROSS_EXPOSURE = 14     # portfolio gross
    MAX_NET_EXPOSURE = 15       # portfolio net
    INSUFFICIENT_BALANCE = 16
    ORDER_RATE = 17
    CANCEL_RATE = 18
    REDUCE_ONLY_VIOLATION = 19  # reduce-only order that would open or flip a position
    CLUSTER_EXPOSURE = 20       # correlated positions together over their cluster limit
    DUPLICATE_ID = 21           # client order id already used
    STALE_MARKET_DATA = 22
    JOURNAL_UNWRITABLE = 23     # the journal could not record the intent (no room, an I/O
                                # error): the order was never sent


@dataclass(slots=True)
class Order:
    """One order and its live state. The OMS owns instances; others read them."""
    client_order_id: str
    venue: str
    symbol: str
    side: Side
    type: OrderType
    qty: int                               # lots
    price: int = 0                         # ticks; limit price (0 for market)
    trigger_price: int = 0                 # ticks; stops and take-profits
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    expire_ns: int = 0                     # GTD only
    trail_ticks: int = 0                   # TRAILING_STOP only
    strategy_id: str = ""
    parent_id: str = ""                    # the stop/take-profit or routed parent it came from
    tag: str = ""                          # free text for reports (e.g. "stop-loss")
    status: OrderStatus = OrderStatus.INITIALIZED
    filled_qty: int = 0                    # lots
    avg_fill_price: float = 0.0            # quote per base unit
    fees: float = 0.0                      # quote currency
    venue_order_id: str = ""
    deny_reason: DenyReason = DenyReason.NONE
    reason_text: str = ""                  # venue reject text or denial detail
    ts_created_ns: int = 0
    ts_last_ns: int = 0

    @property
    def leaves_qty(self) -> int:
        return self.qty - self.filled_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def signed_qty(self) -> int:
        return int(self.side) * self.qty


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of (part of) an order, as the venue reported it (or the paper venue made it).

    `trade_id` is unique per venue and is what makes applying a fill idempotent (a fill seen again
    after a reconnect or in recovery is recognised and ignored)."""
    client_order_id: str
    venue: str
    symbol: str
    side: Side
    qty: int                    # lots
    price: int                  # ticks
    fee: float                  # quote currency (negative = rebate)
    liquidity: str              # "maker" | "taker"
    trade_id: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """A change of an order's state, published to the order's strategy and to risk."""
    client_order_id: str
    status: OrderStatus
    ts_ns: int
    fill: Fill | None = None
    reason: str = ""
    extra: dict = field(default_factory=dict)
