"""Uniswap V2 pool events from eth_getLogs data (the mev-inspect-rs fixtures carry them):
each `Swap` with the reserves its pair reported in the `Sync` emitted just before it."""
from __future__ import annotations

from dataclasses import dataclass

from tradecore.mev.abi import EVENT_TOPICS
from tradecore.mev.traces import Block

_SWAP = EVENT_TOPICS["univ2_swap"]
_SYNC = EVENT_TOPICS["univ2_sync"]


@dataclass(frozen=True, slots=True)
class V2SwapEvent:
    pair: str
    transaction_hash: str
    log_index: int
    amount0_in: int
    amount1_in: int
    amount0_out: int
    amount1_out: int
    reserve0_after: int
    reserve1_after: int

    @property
    def reserves_before(self) -> tuple[int, int]:
        return (self.reserve0_after - self.amount0_in + self.amount0_out,
                self.reserve1_after - self.amount1_in + self.amount1_out)


def _words(data: str) -> list[int]:
    body = data[2:]
    return [int(body[i:i + 64], 16) for i in range(0, len(body), 64)]


def v2_swap_events(block: Block) -> list[V2SwapEvent]:
    out: list[V2SwapEvent] = []
    last_sync: dict[str, tuple[int, int, int]] = {}
    for lg in block.logs:
        if not lg.topics:
            continue
        if lg.topics[0] == _SYNC:
            r0, r1 = _words(lg.data)[:2]
            last_sync[lg.address] = (lg.log_index, r0, r1)
        elif lg.topics[0] == _SWAP:
            sync = last_sync.get(lg.address)
            if sync is None or sync[0] != lg.log_index - 1:
                continue  # a V2 pair always syncs right before Swap: anything else is not V2
            a0i, a1i, a0o, a1o = _words(lg.data)[:4]
            out.append(V2SwapEvent(lg.address, lg.transaction_hash, lg.log_index, a0i, a1i, a0o, a1o, sync[1], sync[2]))
    return out
