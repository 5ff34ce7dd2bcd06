"""Value types and events shared by every layer; imports nothing else of tradecore."""
