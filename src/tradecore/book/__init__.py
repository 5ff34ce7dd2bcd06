"""Order books. `L2Book` is the compiled kernel itself (no wrapper: a Python layer in between
would double the cost of every call on the hot path)."""
from tradecore._fast.book import L2Book, reason_text

__all__ = ["L2Book", "reason_text"]
