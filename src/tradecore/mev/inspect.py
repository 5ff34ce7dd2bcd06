"""One block in, every finding out: the pipeline behind `tradecore mev inspect`."""
from __future__ import annotations

from dataclasses import dataclass, field

from tradecore.mev.classify import Classified, classify_block
from tradecore.mev.detect.arbitrage import get_arbitrages
from tradecore.mev.detect.jit import get_jit_liquidity
from tradecore.mev.detect.liquidation import liquidation_profits
from tradecore.mev.detect.sandwich import get_sandwiches
from tradecore.mev.model import Arbitrage, JitLiquidity, Liquidation, Sandwich, Swap
from tradecore.mev.traces import Block


@dataclass(slots=True)
class Inspection:
    block_number: int
    miner: str | None
    swaps: list[Swap]
    arbitrages: list[Arbitrage]
    sandwiches: list[Sandwich]
    liquidations: list[Liquidation]
    jit_liquidity: list[JitLiquidity]
    classified: Classified
    liquidation_profit: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        c = self.classified
        return {
            "block_number": self.block_number,
            "miner": self.miner,
            "swaps": [s.to_json() for s in self.swaps],
            "arbitrages": [a.to_json() for a in self.arbitrages],
            "sandwiches": [s.to_json() for s in self.sandwiches],
            "liquidations": [dict(l.to_json(), profit_amount=self.liquidation_profit.get(l.transaction_hash))
                             for l in self.liquidations],
            "jit_liquidity": [j.to_json() for j in self.jit_liquidity],
            "transfers": len(c.transfers),
            "weth_deposits": sum(1 for w in c.weth_moves if w.kind == "deposit"),
            "weth_withdrawals": sum(1 for w in c.weth_moves if w.kind == "withdrawal"),
            "unknown_calls": c.unknown_calls,
            "unknown_contracts": len(c.unknown_contracts),
            "skipped_unlisted_markets": c.skipped_markets,
        }


def inspect_block(block: Block, strict_abi: bool = False) -> Inspection:
    c = classify_block(block, strict_abi)
    tx_to = {t.transaction_hash: t.to_address for t in block.traces if t.type == "call" and not t.trace_address}
    miner = c.miner or block.miner
    return Inspection(block.block_number, miner, c.swaps, get_arbitrages(c.swaps), get_sandwiches(c.swaps),
                      c.liquidations, get_jit_liquidity(c.liquidity_changes, c.swaps, tx_to, block.block_number), c,
                      liquidation_profits(c.liquidations, c.swaps))
