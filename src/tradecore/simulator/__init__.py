"""Local exchange simulator: recorded real market data replayed over each venue's own WebSocket
and REST protocols on 127.0.0.1, with fault injection (see exchange.py and faults.py)."""
from tradecore.simulator.exchange import ExchangeSimulator, Session
from tradecore.simulator.faults import Fault, FaultError, FaultRecord
from tradecore.simulator.venues import VENUES

__all__ = ["ExchangeSimulator", "Fault", "FaultError", "FaultRecord", "Session", "VENUES"]
