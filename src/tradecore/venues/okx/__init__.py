"""OKX (WebSocket v5): book and trade normalization with signed CRC32 checksum verification."""
from tradecore.venues.okx.normalize import OkxNormalizer

__all__ = ["OkxNormalizer"]
