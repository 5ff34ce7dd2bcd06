"""Arbitrage strategies over the compiled detectors of _fast/arb.pyx."""
from tradecore.strategies.arb.cross import CrossExchangeArbitrage
from tradecore.strategies.arb.triangular import TriangularArbitrage

__all__ = ["CrossExchangeArbitrage", "TriangularArbitrage"]
