"""The ABI tables as data: `signatures.json` (functions, events, well-known addresses) and the
Compound/CREAM cToken -> underlying maps (copied from flashbots/mev-inspect-py tests, MIT).

Selectors are computed from the signature strings at import (keccak in pure Python, ~1 ms each),
so a typo in a signature shows up as a decoding miss in the tests, never as a silent mismatch.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from tradecore.mev.abi.keccak import selector, topic


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str            # our key, e.g. "univ2_swap"
    signature: str
    selector: str        # "0x022c0d9f"
    args: tuple[str, ...]
    signed: frozenset[str]  # args decoded as two's-complement int256
    types: tuple[str, ...]  # flattened head types of the signature (tuples inlined)


def _load(name: str):
    return json.loads(resources.files(__package__).joinpath(name).read_text())


_TABLE = _load("signatures.json")

FUNCTIONS: dict[str, FunctionSpec] = {}
BY_SELECTOR: dict[str, FunctionSpec] = {}
for _key, _f in _TABLE["functions"].items():
    _names = tuple(a.split(":")[0] for a in _f["args"])
    _signed = frozenset(a.split(":")[0] for a in _f["args"] if a.endswith(":int"))
    _types = tuple(x for x in _f["signature"].split("(", 1)[1].rstrip(")").replace("(", "").replace(")", "").split(",") if x)
    _spec = FunctionSpec(_key, _f["signature"], selector(_f["signature"]), _names, _signed, _types)
    if _spec.selector in BY_SELECTOR:
        raise RuntimeError(f"selector clash {_spec.selector}: {_key} / {BY_SELECTOR[_spec.selector].name}")
    FUNCTIONS[_key] = _spec
    BY_SELECTOR[_spec.selector] = _spec

EVENT_TOPICS: dict[str, str] = {k: topic(v["signature"]) for k, v in _TABLE["events"].items()}
ADDRESSES: dict = _TABLE["addresses"]
ETH = ADDRESSES["eth"]
WETH = ADDRESSES["weth"]
ZEROEX_PROXY = ADDRESSES["zeroex_exchange_proxy"]
UNISWAP_ROUTERS = frozenset(ADDRESSES["uniswap_routers"])
COMPOUND_MARKETS: dict[str, str] = {k.lower(): v.lower() for k, v in _load("compound_markets.json").items()}
CREAM_MARKETS: dict[str, str] = {k.lower(): v.lower() for k, v in _load("cream_markets.json").items()}
CETH = ADDRESSES["compound_ceth"]
CRETH = ADDRESSES["cream_creth"]

_MOD = 1 << 256


def _canonical(spec: FunctionSpec, body: str) -> bool:
    """Whether the call data is canonical ABI encoding: zero padding above addresses and small
    uints, 0/1 bools, and dynamic `bytes` tails padded to a whole word. The EVM (and the called
    contract) only reads what it needs, so non-canonical data still executes; mev-inspect-py
    decodes with eth_abi, which rejects it, so `strict=True` reproduces that tool's view."""
    nbytes = len(body) // 2
    for i, typ in enumerate(spec.types):
        if 64 * i + 64 > len(body):
            return False
        w = int(body[64 * i:64 * i + 64], 16)
        if typ == "address" and w >> 160:
            return False
        if typ == "bool" and w > 1:
            return False
        if typ.startswith("uint") and typ != "uint256" and w >> int(typ[4:]):
            return False
        if typ in ("bytes", "address[]"):
            if w + 32 > nbytes:
                return False
            ln = int(body[2 * w:2 * w + 64], 16)
            size = 32 * ln if typ == "address[]" else (ln + 31) // 32 * 32
            if w + 32 + size > nbytes:
                return False
    return True


def decode_args(spec: FunctionSpec, input_hex: str, strict: bool = False) -> dict[str, int] | None:
    """The leading static words of the call data as ints (addresses stay ints: callers convert
    the ones they use). None when the call data is too short for the signature (a malformed or
    foreign call that merely shares the selector), or with `strict` when it is not canonical."""
    body = input_hex[10:]
    n = len(spec.args)
    if len(body) < 64 * n:
        return None
    if strict and not _canonical(spec, body):
        return None
    out: dict[str, int] = {}
    for i, name in enumerate(spec.args):
        v = int(body[64 * i:64 * i + 64], 16)
        if name in spec.signed and v >= _MOD >> 1:
            v -= _MOD
        out[name] = v
    return out


def word_address(v: int) -> str:
    return "0x%040x" % (v & ((1 << 160) - 1))
