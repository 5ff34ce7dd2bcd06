"""What the inspector reports. Field names are mev-inspect-py's (schemas/swaps.py, arbitrages.py,
sandwiches.py, liquidations.py, jit_liquidity.py of flashbots/mev-inspect-py), so an item can be
compared key by key with that tool's output. Amounts are Python ints (unbounded, exact)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Transfer:
    transaction_hash: str
    trace_address: tuple[int, ...]
    from_address: str
    to_address: str
    token_address: str   # ETH placeholder 0xeee... for plain value transfers
    amount: int


@dataclass(slots=True, eq=False)
class Swap:
    abi_name: str
    transaction_hash: str
    transaction_position: int
    block_number: int
    trace_address: tuple[int, ...]
    contract_address: str
    from_address: str
    to_address: str
    token_in_address: str
    token_in_amount: int
    token_out_address: str
    token_out_amount: int
    protocol: str
    error: str | None = None
    # who finally got the output when it went to a Uniswap router that forwarded it (e.g.
    # swapExactTokensForETH unwraps WETH and pays ETH on); "" otherwise. Not a reference field.
    beneficiary: str = ""

    def to_json(self) -> dict:
        return {
            "abi_name": self.abi_name, "transaction_hash": self.transaction_hash,
            "transaction_position": self.transaction_position, "block_number": self.block_number,
            "trace_address": list(self.trace_address), "contract_address": self.contract_address,
            "from_address": self.from_address, "to_address": self.to_address,
            "token_in_address": self.token_in_address, "token_in_amount": self.token_in_amount,
            "token_out_address": self.token_out_address, "token_out_amount": self.token_out_amount,
            "protocol": self.protocol, "error": self.error,
        }


@dataclass(slots=True)
class Arbitrage:
    swaps: list[Swap]
    block_number: int
    transaction_hash: str
    account_address: str
    profit_token_address: str
    start_amount: int
    end_amount: int
    profit_amount: int
    error: str | None

    def to_json(self) -> dict:
        return {"swaps": [s.to_json() for s in self.swaps], "block_number": self.block_number,
                "transaction_hash": self.transaction_hash, "account_address": self.account_address,
                "profit_token_address": self.profit_token_address, "start_amount": self.start_amount,
                "end_amount": self.end_amount, "profit_amount": self.profit_amount, "error": self.error}


@dataclass(slots=True)
class Sandwich:
    block_number: int
    sandwicher_address: str
    frontrun_swap: Swap
    backrun_swap: Swap
    sandwiched_swaps: list[Swap]
    profit_token_address: str
    profit_amount: int

    def to_json(self) -> dict:
        return {"block_number": self.block_number, "sandwicher_address": self.sandwicher_address,
                "frontrun_swap": self.frontrun_swap.to_json(), "backrun_swap": self.backrun_swap.to_json(),
                "sandwiched_swaps": [s.to_json() for s in self.sandwiched_swaps],
                "profit_token_address": self.profit_token_address, "profit_amount": self.profit_amount}


@dataclass(slots=True)
class Liquidation:
    liquidated_user: str
    liquidator_user: str
    debt_token_address: str
    debt_purchase_amount: int
    received_amount: int
    received_token_address: str
    protocol: str
    transaction_hash: str
    trace_address: tuple[int, ...]
    block_number: int
    error: str | None = None

    def to_json(self) -> dict:
        return {"liquidated_user": self.liquidated_user, "liquidator_user": self.liquidator_user,
                "debt_token_address": self.debt_token_address, "debt_purchase_amount": self.debt_purchase_amount,
                "received_amount": self.received_amount, "received_token_address": self.received_token_address,
                "protocol": self.protocol, "transaction_hash": self.transaction_hash,
                "trace_address": list(self.trace_address), "block_number": self.block_number, "error": self.error}


@dataclass(slots=True)
class LiquidityChange:
    """A Uniswap V3 `mint` or `burn` frame with the token amounts that moved for it."""
    kind: str                 # "mint" / "burn"
    transaction_hash: str
    transaction_position: int
    trace_address: tuple[int, ...]
    pool_address: str
    caller: str               # from_address of the pool call (the bot contract)
    tick_lower: int
    tick_upper: int
    liquidity: int
    amounts: dict[str, int] = field(default_factory=dict)  # token -> amount


@dataclass(slots=True)
class JitLiquidity:
    block_number: int
    bot_address: str
    pool_address: str
    mint_transaction_hash: str
    mint_trace: tuple[int, ...]
    burn_transaction_hash: str
    burn_trace: tuple[int, ...]
    swaps: list[Swap]
    token0_address: str
    token1_address: str
    mint_token0_amount: int
    mint_token1_amount: int
    burn_token0_amount: int
    burn_token1_amount: int
    token0_swap_volume: int
    token1_swap_volume: int

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in self.__slots__}
        d["mint_trace"] = list(self.mint_trace)
        d["burn_trace"] = list(self.burn_trace)
        d["swaps"] = [s.to_json() for s in self.swaps]
        # net position of the bot over the round trip (burn out - mint in), per token: what the
        # fees earned and the inventory change sum to
        d["net_token0_amount"] = self.burn_token0_amount - self.mint_token0_amount
        d["net_token1_amount"] = self.burn_token1_amount - self.mint_token1_amount
        return d
