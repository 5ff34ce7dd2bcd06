"""Coinbase: Advanced Trade (`l2_data`) and the legacy Pro feed (`level2`)."""
from tradecore.venues.coinbase.normalize import CoinbaseNormalizer

__all__ = ["CoinbaseNormalizer"]
