"""Decode a block's call traces into transfers, swaps, liquidations and V3 liquidity changes.

The decoding follows flashbots/mev-inspect-py (classifiers/, swaps.py, transfers.py,
liquidations.py) so that its answers can be matched exactly:

- a transfer is an ERC-20 `transfer`/`transferFrom` call frame (token = the called contract) or a
  plain ETH call (value > 0, empty call data); transfers nested inside another transfer frame
  (proxy tokens) are dropped;
- a swap is a pool call (`swap` of Uniswap V2 and forks / V3, Balancer v1 `swapExactAmount*`,
  Curve `exchange*`, 0x native-order fills on the exchange proxy) together with the transfers into
  the pool (an ETH value on the call, else the last earlier transfer to the pool in the same
  transaction, else one inside the call) and the single transfer out of the pool to the recipient;
- a liquidation is an Aave `liquidationCall` or a Compound/CREAM `liquidateBorrow` frame on a
  listed market, not nested in another liquidation frame.

Frames are matched by selector (the signature table in abi/signatures.json), never by guessing
from balances. Calls whose selector is not in the table are counted as unknown and skipped;
Compound/CREAM calls to a cToken absent from the market maps are skipped and counted likewise.
A frame with an error, or under a frame with an error, is reverted: its swaps keep `error` set
(mev-inspect-py reports reverted arbitrage attempts), its liquidations and liquidity changes are
not reported at all.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tradecore.mev.abi import (BY_SELECTOR, CETH, COMPOUND_MARKETS, CREAM_MARKETS, CRETH, ETH,
                               UNISWAP_ROUTERS, WETH, ZEROEX_PROXY, FunctionSpec, decode_args, word_address)
from tradecore.mev.model import Liquidation, LiquidityChange, Swap, Transfer
from tradecore.mev.traces import Block, Trace

_SWAP_KINDS = {
    "univ2_swap": ("uniswap_v2", "UniswapV2Pair"),
    "univ3_swap": ("uniswap_v3", "UniswapV3Pool"),
    "balancer_swap_in": ("balancer_v1", "BPool"),
    "balancer_swap_out": ("balancer_v1", "BPool"),
    "curve_exchange": ("curve", "CurvePool"),
    "curve_exchange_underlying": ("curve", "CurvePool"),
    "zeroex_fill_limit": ("zero_ex", "INativeOrdersFeature"),
    "zeroex_fill_limit_internal": ("zero_ex", "INativeOrdersFeature"),
    "zeroex_fill_or_kill_limit": ("zero_ex", "INativeOrdersFeature"),
    "zeroex_fill_rfq": ("zero_ex", "INativeOrdersFeature"),
    "zeroex_fill_rfq_internal": ("zero_ex", "INativeOrdersFeature"),
    "zeroex_fill_or_kill_rfq": ("zero_ex", "INativeOrdersFeature"),
}
_TRANSFER_KINDS = ("erc20_transfer", "erc20_transfer_from", "atoken_transfer_on_liquidation")


@dataclass(slots=True)
class Decoded:
    trace: Trace
    spec: FunctionSpec | None
    args: dict[str, int] | None
    reverted: bool          # this frame or an ancestor has an error


@dataclass(slots=True)
class WethMove:
    kind: str               # "deposit" / "withdrawal"
    transaction_hash: str
    trace_address: tuple[int, ...]
    account: str
    amount: int


@dataclass(slots=True)
class Classified:
    block_number: int
    transfers: list[Transfer] = field(default_factory=list)
    swaps: list[Swap] = field(default_factory=list)
    liquidations: list[Liquidation] = field(default_factory=list)
    liquidity_changes: list[LiquidityChange] = field(default_factory=list)
    weth_moves: list[WethMove] = field(default_factory=list)
    miner: str | None = None
    unknown_calls: int = 0
    unknown_contracts: set[str] = field(default_factory=set)
    skipped_markets: int = 0


def _error(d: "Decoded") -> str | None:
    """A frame's own error, or "Reverted" when an enclosing frame reverted (its effects are
    undone even though its own trace shows no error)."""
    return d.trace.error if d.trace.error is not None else ("Reverted" if d.reverted else None)


def _is_child(child: tuple[int, ...], parent: tuple[int, ...]) -> bool:
    return len(child) > len(parent) and child[:len(parent)] == parent


def get_transfer(d: Decoded) -> Transfer | None:
    t = d.trace
    if t.type != "call" or t.call_type != "call":
        return None
    if t.value > 0 and t.input == "0x":
        return Transfer(t.transaction_hash, t.trace_address, t.from_address, t.to_address, ETH, t.value)
    if d.spec is None or d.args is None or d.spec.name not in _TRANSFER_KINDS:
        return None
    a = d.args
    sender = t.from_address if d.spec.name == "erc20_transfer" else word_address(a["sender"])
    return Transfer(t.transaction_hash, t.trace_address, sender, word_address(a["recipient"]), t.to_address, a["amount"])


def _drop_nested(transfers: list[Transfer]) -> list[Transfer]:
    """Drop transfers made inside another transfer frame (a proxy token forwarding the call)."""
    if len(transfers) < 2:
        return transfers
    tas = [t.trace_address for t in transfers]
    return [t for t in transfers if not any(_is_child(t.trace_address, p) for p in tas)]


def _filter(transfers: list[Transfer], to: str | None = None, frm: str | None = None) -> list[Transfer]:
    return [t for t in transfers if (to is None or t.to_address == to) and (frm is None or t.from_address == frm)]


def _swap(d: Decoded, kind: str, recipient: str, prior: list[Transfer], child: list[Transfer]) -> Swap | None:
    t = d.trace
    protocol, abi_name = _SWAP_KINDS[kind]
    pool = t.to_address
    if protocol in ("curve",):
        # the caller pays the pool and receives from it (create_swap_from_recipient_transfers)
        sent = _filter(prior + child, frm=recipient, to=pool)
        got = _filter(child, to=recipient, frm=pool)
        if len(sent) != 1 or len(got) != 1:
            return None
        tin, tout = sent[0], got[0]
        frm, to = recipient, recipient
    else:
        if t.value > 0:
            ins = [Transfer(t.transaction_hash, t.trace_address, t.from_address, t.to_address, ETH, t.value)]
        else:
            ins = _filter(prior, to=pool) or _filter(child, to=pool)
        if not ins:
            return None
        outs = _filter(child, to=recipient, frm=pool)
        if len(outs) != 1:
            return None
        tin, tout = ins[-1], outs[0]
        frm, to = tin.from_address, tout.to_address
    return Swap(abi_name, t.transaction_hash, t.transaction_position, t.block_number, t.trace_address, pool,
                frm, to, tin.token_address, tin.amount, tout.token_address, tout.amount, protocol, _error(d))


def _zeroex_swap(d: Decoded, child: list[Transfer]) -> Swap | None:
    """0x native order fill: taker token and amount from the order and the fill amount, maker
    token amount from the transfer of the maker token inside the call (mev-inspect-py zero_ex)."""
    t = d.trace
    if t.to_address != ZEROEX_PROXY or len(child) < 2:
        return None
    a = d.args
    taker_token = word_address(a["takerToken"])
    maker_token = word_address(a["makerToken"])
    outs = [x for x in child if x.token_address == maker_token]
    if not outs:
        return None
    return Swap("INativeOrdersFeature", t.transaction_hash, t.transaction_position, t.block_number, t.trace_address,
                t.to_address, t.from_address, t.to_address, taker_token, a["takerTokenFillAmount"],
                maker_token, outs[0].amount, "zero_ex", _error(d))


def _forwarded_to(s: Swap, tx_transfers: list[Transfer]) -> str:
    """The account a router passed this swap's output on to, found by the exact amount."""
    tokens = (s.token_out_address, ETH) if s.token_out_address == WETH else (s.token_out_address,)
    for x in tx_transfers:
        if (x.from_address == s.to_address and x.trace_address > s.trace_address
                and x.amount == s.token_out_amount and x.token_address in tokens):
            return x.to_address
    return ""


def _decode_all(traces: list[Trace], out: Classified, strict: bool) -> list[Decoded]:
    decoded: list[Decoded] = []
    err_prefixes: list[tuple[int, ...]] = []
    for t in traces:
        reverted = t.error is not None or any(t.trace_address[:len(p)] == p for p in err_prefixes)
        if t.error is not None:
            err_prefixes.append(t.trace_address)
        spec = args = None
        if t.type == "call" and len(t.input) >= 10:
            spec = BY_SELECTOR.get(t.input[:10])
            if spec is None:
                out.unknown_calls += 1
                out.unknown_contracts.add(t.to_address)
            else:
                args = decode_args(spec, t.input, strict)
                if args is None:
                    spec = None
                    out.unknown_calls += 1
        decoded.append(Decoded(t, spec, args, reverted))
    return decoded


def _liquidation(d: Decoded, children: list[Decoded], child_transfers: list[Transfer], out: Classified) -> Liquidation | None:
    t, a = d.trace, d.args
    liquidator = t.from_address
    if d.spec.name == "aave_liquidation_call":
        debt = next((x for x in child_transfers if x.from_address == liquidator), None)
        recv = next((x for x in child_transfers if x.to_address == liquidator), None)
        if debt is None or recv is None:
            return None
        return Liquidation(word_address(a["user"]), liquidator, word_address(a["reserve"]), debt.amount,
                           recv.amount, recv.token_address, "aave", t.transaction_hash,
                           t.trace_address, t.block_number, t.error)
    market = t.to_address
    if market in COMPOUND_MARKETS or market == CETH:
        protocol, underlying = "compound_v2", COMPOUND_MARKETS.get(market, ETH)
    elif market in CREAM_MARKETS or market == CRETH:
        protocol, underlying = "cream", CREAM_MARKETS.get(market, ETH)
    else:
        out.skipped_markets += 1
        return None
    if d.spec.name == "compound_liquidate_eth" or (t.value > 0 and underlying == ETH):
        debt_token, debt_amount = ETH, t.value
    else:
        debt_token, debt_amount = underlying, a["repayAmount"]
    seized = None
    for c in children:
        if c.spec is not None and c.spec.name == "compound_seize" and c.args is not None:
            seized = c.args["seizeTokens"]
    if seized is None:
        return None
    return Liquidation(word_address(a["borrower"]), liquidator, debt_token, debt_amount, seized,
                       word_address(a["cTokenCollateral"]), protocol, t.transaction_hash, t.trace_address,
                       t.block_number, t.error)


def _liquidity_change(d: Decoded, child: list[Transfer], tx_transfers: list[Transfer]) -> LiquidityChange:
    t, a = d.trace, d.args
    pool = t.to_address
    kind = "mint" if d.spec.name == "univ3_mint" else "burn"
    amounts: dict[str, int] = {}
    if kind == "mint":
        for x in child:
            if x.to_address == pool:
                amounts[x.token_address] = amounts.get(x.token_address, 0) + x.amount
    else:
        # burn only credits the position; the tokens leave the pool in the `collect` that follows
        # in the same transaction: every transfer out of the pool after the burn frame
        for x in tx_transfers:
            if x.from_address == pool and x.trace_address > t.trace_address:
                amounts[x.token_address] = amounts.get(x.token_address, 0) + x.amount
    return LiquidityChange(kind, t.transaction_hash, t.transaction_position, t.trace_address, pool, t.from_address,
                           a["tickLower"], a["tickUpper"], a["amount"], amounts)


def classify_block(block: Block, strict_abi: bool = False) -> Classified:
    """`strict_abi=True` refuses non-canonical call data as mev-inspect-py's eth_abi does (see
    abi._canonical); the default reads calls as the EVM does, which finds a few more swaps."""
    out = Classified(block.block_number)
    by_tx: dict[str, list[Trace]] = {}
    for t in block.traces:
        if t.type == "reward":
            if out.miner is None:
                out.miner = t.author
            continue
        by_tx.setdefault(t.transaction_hash, []).append(t)
    for txs in by_tx.values():
        _classify_tx(sorted(txs, key=lambda t: t.trace_address), out, strict_abi)
    return out


def _classify_tx(traces: list[Trace], out: Classified, strict: bool) -> None:
    decoded = _decode_all(traces, out, strict)
    transfers_all: list[Transfer | None] = [get_transfer(d) for d in decoded]
    tx_transfers = [x for x in transfers_all if x is not None]
    out.transfers.extend(tx_transfers)
    prior: list[Transfer] = []
    liquidation_frames: list[tuple[int, ...]] = []
    n = len(decoded)
    for i, d in enumerate(decoded):
        spec = d.spec
        if spec is None:
            continue
        name = spec.name
        t = d.trace
        if name in _TRANSFER_KINDS:
            if transfers_all[i] is not None:
                prior.append(transfers_all[i])
            continue
        if name in ("weth_deposit", "weth_withdraw"):
            if t.to_address == WETH and t.call_type == "call" and not d.reverted:
                amt = t.value if name == "weth_deposit" else d.args["wad"]
                out.weth_moves.append(WethMove("deposit" if name == "weth_deposit" else "withdrawal",
                                               t.transaction_hash, t.trace_address, t.from_address, amt))
            continue
        if t.call_type != "call":
            continue
        if name in _SWAP_KINDS or name in ("aave_liquidation_call", "compound_liquidate", "compound_liquidate_eth",
                                           "univ3_mint", "univ3_burn"):
            child_idx = [j for j in range(i + 1, n) if _is_child(decoded[j].trace.trace_address, t.trace_address)]
            child = [transfers_all[j] for j in child_idx if transfers_all[j] is not None]
            if name in _SWAP_KINDS:
                kind_protocol = _SWAP_KINDS[name][0]
                if kind_protocol == "zero_ex":
                    s = _zeroex_swap(d, _drop_nested(child))
                else:
                    a = d.args
                    if name == "univ2_swap":
                        recipient = word_address(a["to"])
                    elif name == "univ3_swap":
                        recipient = word_address(a["recipient"])
                    else:
                        recipient = t.from_address
                    s = _swap(d, name, recipient, _drop_nested(prior), _drop_nested(child))
                if s is not None:
                    if s.to_address in UNISWAP_ROUTERS:
                        s.beneficiary = _forwarded_to(s, tx_transfers)
                    out.swaps.append(s)
            elif name in ("univ3_mint", "univ3_burn"):
                if not d.reverted:
                    out.liquidity_changes.append(_liquidity_change(d, child, tx_transfers))
            else:
                if d.reverted or any(_is_child(t.trace_address, p) for p in liquidation_frames):
                    continue
                liquidation_frames.append(t.trace_address)
                liq = _liquidation(d, [decoded[j] for j in child_idx], child, out)
                if liq is not None:
                    out.liquidations.append(liq)
