"""Kraken spot (WebSocket v1): book and trade normalization with CRC32 checksum verification."""
from tradecore.venues.kraken.normalize import KrakenNormalizer

__all__ = ["KrakenNormalizer"]
