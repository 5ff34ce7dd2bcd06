"""Shared by tests/risk and tests/_fast/test_riskgate.py: a gate over the compiled kernel with
Binance spot's real grids (tick/lot/min qty of BTCUSDT and ETHUSDT as in
../shared/data/instruments/binance_spot_exchangeInfo_20211012.json.gz; min notional 5, today's
value), the BTCUSDT mid of the recorded 2024-08-08 book and an ETHUSDT close of 2021-04-26."""
from __future__ import annotations

from tradecore.core.clock import SimClock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import Order, OrderType, Side
from tradecore.risk.gate import RiskGate
from tradecore.risk.limits import RiskLimits, SymbolLimits

T0 = 1_716_000_000_000_000_000
BTC = Instrument("binance", "BTCUSDT", "0.01", "0.00001", "BTC", "USDT", min_qty="0.00001",
                 min_notional="5", maker_fee=0.001, taker_fee=0.001)
ETH = Instrument("binance", "ETHUSDT", "0.01", "0.0001", "ETH", "USDT", min_qty="0.0001",
                 min_notional="5", maker_fee=0.001, taker_fee=0.001)
BTC_MID = 61837.635
ETH_MID = 2504.01


def make_gate(limits: RiskLimits | None = None, btc: SymbolLimits | None = None,
              eth: SymbolLimits | None = None, kernel_factory=None) -> RiskGate:
    kw = {} if kernel_factory is None else {"kernel_factory": kernel_factory}
    g = RiskGate(limits or RiskLimits(), SimClock(T0), **kw)
    g.add_instrument(BTC, btc)
    g.add_instrument(ETH, eth)
    g.update_mid("binance", "BTCUSDT", BTC_MID, T0)
    g.update_mid("binance", "ETHUSDT", ETH_MID, T0)
    return g


_ids = iter(range(10**9))


def order(side: Side = Side.BUY, qty: int = 1000, price: int = 6_183_700, *,
          symbol: str = "BTCUSDT", type: OrderType = OrderType.LIMIT, **kw) -> Order:
    """1000 lots = 0.01 BTC at 61837.00 (~618 USDT) by default."""
    return Order(f"o{next(_ids)}", kw.pop("venue", "binance"), symbol, side, type, qty, price,
                 **kw)
