"""The event bus: tradecore's events over NATS JetStream, for runs that span processes or hosts
(docs/distributed.md). Off by default; the in-process path does not import this package.

Layer: above execution and engine (the execution node is the in-process TradingNode without
strategies), below cli.
"""
