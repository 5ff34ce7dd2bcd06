"""Subject names and the JetStream streams that hold them.

    tradecore.md.<venue>.<symbol>      book deltas, trades, stale marks    stream TC_MD
    tradecore.feed.end                 end of a replayed recording         stream TC_MD
    tradecore.snap.<venue>.<symbol>    latest full book per book           stream TC_SNAP
                                       (max_msgs_per_subject = 1)
    tradecore.orders.<account>         order commands + Done sync marks    stream TC_ORDERS
    tradecore.events.<account>         order events, fills, Ready marks    stream TC_EVENTS
    tradecore.risk.<account>           trading state changes               stream TC_EVENTS

Market data of every book shares one stream so that a consumer reads it in the feed's order
(one global message number, gseq); a strategy node filters the books it reads locally (NATS
2.9 consumers take one filter subject). Risk state shares the events stream so a strategy node
sees a HALT in order with the events around it.
"""
from __future__ import annotations

import re

PREFIX = "tradecore"
_TOKEN = re.compile(r"[^\s.*>]{1,64}")

MD_STREAM = "TC_MD"
SNAP_STREAM = "TC_SNAP"
ORDERS_STREAM = "TC_ORDERS"
EVENTS_STREAM = "TC_EVENTS"


def token(kind: str, value: str) -> str:
    """A subject token: venue, symbol and account names are used as-is (Kraken's "XBT/USD"
    and OKX's "BTC-USDT-SWAP" included), so a name NATS would split (a dot) or read as a
    wildcard (* >), or one with white space, is refused here."""
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError(f"{kind} {value!r} cannot be a NATS subject token: expected 1-64 "
                         f"characters without white space, '.', '*' or '>'")
    return value


def md(venue: str, symbol: str) -> str:
    return f"{PREFIX}.md.{token('venue', venue)}.{token('symbol', symbol)}"


def snap(venue: str, symbol: str) -> str:
    return f"{PREFIX}.snap.{token('venue', venue)}.{token('symbol', symbol)}"


def orders(account: str) -> str:
    return f"{PREFIX}.orders.{token('account', account)}"


def events(account: str) -> str:
    return f"{PREFIX}.events.{token('account', account)}"


def risk(account: str) -> str:
    return f"{PREFIX}.risk.{token('account', account)}"


FEED_END = f"{PREFIX}.feed.end"

STREAMS: dict[str, dict] = {
    MD_STREAM: {"subjects": [f"{PREFIX}.md.>", f"{PREFIX}.feed.>"]},
    SNAP_STREAM: {"subjects": [f"{PREFIX}.snap.>"], "max_msgs_per_subject": 1},
    ORDERS_STREAM: {"subjects": [f"{PREFIX}.orders.>"]},
    EVENTS_STREAM: {"subjects": [f"{PREFIX}.events.>", f"{PREFIX}.risk.>"]},
}
