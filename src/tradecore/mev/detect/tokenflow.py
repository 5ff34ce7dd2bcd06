"""Token flows of a transaction's contract: ETH and stablecoin in/out, the mev-inspect-py
`tokenflow` measure (tokenflow.py there), kept for its labelled answers and as a cheap
profit proxy for contracts we cannot decode.

For the transaction's `to` address and the targets it delegatecalls into:
ether_flows = [in, out] of ETH carried by call values (plain calls, not delegate/static
frames, which carry no ETH of their own) and selfdestruct refunds, plus WETH `transfer` /
`transferFrom` amounts. ETH sent to or received from the WETH contract (wrapping, unwrapping)
is a conversion already counted by the WETH transfers, not a flow, and is left out: counting
both would double every wrapped leg (block 11930296, tx 0x4121ce80..., labels this); dollar_flows = the same for stablecoin transfers, in raw units of each
coin (mixed decimals, as the reference). Transactions sent to a known router or aggregator are
not a searcher's contract: flows are [0, 0].
"""
from __future__ import annotations

from tradecore.mev.abi import BY_SELECTOR, WETH, ZEROEX_PROXY, decode_args, word_address
from tradecore.mev.traces import Block

STABLECOINS = frozenset({
    "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",  # USDC
    "0xdac17f958d2ee523a2206206994597c13d831ec7",  # USDT
    "0x6b175474e89094c44da98b954eedeac495271d0f",  # DAI
    "0x0000000000085d4780b73119b644ae5ecd22b376",  # TUSD
    "0x4fabb145d64652a948d72533023f6e7a623c7c53",  # BUSD
    "0x8e870d67f660d95d5be530380d0ec0bd388289e1",  # PAX
})
ROUTERS = frozenset({
    "0x111111125434b319222cdbf8c261674adb56f3ae",  # 1inch v2
    "0x11111112542d85b3ef69ae05771c2dccff4faa26",  # 1inch v3
    ZEROEX_PROXY,
})


def _flows(traces, accounts: set[str], tokens: frozenset[str], with_eth: bool) -> list[int]:
    inflow = outflow = 0
    for t in traces:
        if t.type == "suicide" and with_eth:
            if t.to_address in accounts:
                inflow += t.value
            continue
        if t.type != "call":
            continue
        if with_eth and t.value > 0 and t.call_type == "call" and WETH not in (t.from_address, t.to_address):
            if t.to_address in accounts:
                inflow += t.value
            if t.from_address in accounts:
                outflow += t.value
        if t.to_address in tokens and t.call_type == "call" and len(t.input) >= 10:
            spec = BY_SELECTOR.get(t.input[:10])
            if spec is None or spec.name not in ("erc20_transfer", "erc20_transfer_from"):
                continue
            a = decode_args(spec, t.input)
            if a is None:
                continue
            sender = t.from_address if spec.name == "erc20_transfer" else word_address(a["sender"])
            recipient = word_address(a["recipient"])
            if recipient in accounts:
                inflow += a["amount"]
            if sender in accounts:
                outflow += a["amount"]
    return [inflow, outflow]


def token_flows(block: Block, transaction_hash: str) -> dict[str, list[int]]:
    traces = [t for t in block.traces if t.transaction_hash == transaction_hash]
    if not traces:
        raise KeyError(f"transaction {transaction_hash} is not in block {block.block_number}")
    root = min(traces, key=lambda t: t.trace_address)
    if root.to_address in ROUTERS:
        return {"ether_flows": [0, 0], "dollar_flows": [0, 0]}
    accounts = {root.to_address}
    accounts |= {t.to_address for t in traces if t.call_type == "delegatecall" and t.from_address == root.to_address}
    return {"ether_flows": _flows(traces, accounts, frozenset({WETH}), True),
            "dollar_flows": _flows(traces, accounts, STABLECOINS, False)}
