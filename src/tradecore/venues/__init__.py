"""One package per exchange: wire format <-> tradecore events, feeds, execution clients."""
