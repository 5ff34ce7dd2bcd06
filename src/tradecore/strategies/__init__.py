"""Strategies: the Strategy base class and the arbitrage, ML and TA strategies built on it."""
from tradecore.strategies.base import Strategy, StrategyContext

__all__ = ["Strategy", "StrategyContext"]
