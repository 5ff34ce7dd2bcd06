"""Load the three input shapes into one model, validating every field we read.

- mev-inspect-py blocks: `{"block_number", "miner", "traces": [...snake_case Parity traces],
  "receipts": [...]}` (no logs);
- mev-inspect-rs fixtures: `{"traces": [camelCase Parity traces], "logs": [eth_getLogs]}` for one
  transaction, or a list of those for a whole block;
- mev-inspect-js cases are decoded swap lists, not blocks: see `swaplist.py`.

Errors name the file and the JSON path of the offending field (`MalformedBlockError`), and are
raised before anything is classified: a half-read block is never inspected.
"""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class MalformedBlockError(ValueError):
    """A block file that is not one of the supported shapes; the message names file and field."""

    def __init__(self, path: str, where: str, problem: str) -> None:
        super().__init__(f"{path}: {where}: {problem}")
        self.path = path
        self.where = where


@dataclass(slots=True)
class Trace:
    transaction_hash: str
    transaction_position: int
    trace_address: tuple[int, ...]
    type: str                 # call / create / suicide / reward
    call_type: str            # call / staticcall / delegatecall / callcode ("" when not a call)
    from_address: str
    to_address: str
    input: str                # "0x..." lower-case
    output: str
    value: int
    error: str | None
    subtraces: int
    block_number: int
    author: str = ""          # reward traces: the miner


@dataclass(slots=True)
class Log:
    address: str
    topics: list[str]
    data: str
    transaction_hash: str
    log_index: int


@dataclass(slots=True)
class Block:
    block_number: int
    path: str
    traces: list[Trace]
    miner: str | None = None
    logs: list[Log] = field(default_factory=list)
    receipts: list[dict] = field(default_factory=list)


def _hex_int(v: Any, path: str, where: str) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str):
        try:
            return int(v, 16) if v.startswith(("0x", "0X")) else int(v)
        except ValueError:
            pass
    raise MalformedBlockError(path, where, f"expected a hex quantity or integer, got {v!r}")


def _addr(v: Any, path: str, where: str) -> str:
    if isinstance(v, str) and v.startswith("0x") and len(v) == 42:
        return v.lower()
    raise MalformedBlockError(path, where, f"expected a 20-byte 0x address, got {v!r}")


def _need(obj: Any, key: str, path: str, where: str) -> Any:
    if not isinstance(obj, dict):
        raise MalformedBlockError(path, where, f"expected an object, got {type(obj).__name__}")
    if key not in obj:
        raise MalformedBlockError(path, f"{where}.{key}", "missing")
    return obj[key]


def _trace(raw: Any, i: int, path: str, block_number: int | None, snake: bool | None = None) -> Trace:
    where = f"traces[{i}]"
    if snake is None:
        snake = isinstance(raw, dict) and "trace_address" in raw
    ta_key, tx_key, pos_key, bn_key = (("trace_address", "transaction_hash", "transaction_position", "block_number")
                                       if snake else ("traceAddress", "transactionHash", "transactionPosition", "blockNumber"))
    typ = _need(raw, "type", path, where)
    action = _need(raw, "action", path, where)
    ta = _need(raw, ta_key, path, where)
    if not isinstance(ta, list) or not all(isinstance(x, int) for x in ta):
        raise MalformedBlockError(path, f"{where}.{ta_key}", f"expected a list of ints, got {ta!r}")
    bn = raw.get(bn_key, block_number)
    if bn is None:
        raise MalformedBlockError(path, f"{where}.{bn_key}", "missing")
    bn = _hex_int(bn, path, f"{where}.{bn_key}")
    if typ == "reward":
        return Trace("", -1, tuple(ta), typ, "", "", "", "0x", "0x",
                     _hex_int(action.get("value", 0), path, f"{where}.action.value"), None, 0, bn,
                     author=_addr(_need(action, "author", path, f"{where}.action"), path, f"{where}.action.author"))
    tx = _need(raw, tx_key, path, where)
    if not isinstance(tx, str) or not tx.startswith("0x"):
        raise MalformedBlockError(path, f"{where}.{tx_key}", f"expected a 0x hash, got {tx!r}")
    pos = _hex_int(_need(raw, pos_key, path, where), path, f"{where}.{pos_key}")
    result = raw.get("result") or {}
    if typ == "call":
        call_type = _need(action, "callType", path, f"{where}.action")
        frm = _addr(_need(action, "from", path, f"{where}.action"), path, f"{where}.action.from")
        to = _addr(_need(action, "to", path, f"{where}.action"), path, f"{where}.action.to")
        inp = _need(action, "input", path, f"{where}.action")
        if not isinstance(inp, str) or not inp.startswith("0x"):
            raise MalformedBlockError(path, f"{where}.action.input", f"expected 0x hex data, got {inp!r}")
        out = result.get("output", "0x") if isinstance(result, dict) else "0x"
    elif typ == "create":
        call_type = ""
        frm = _addr(_need(action, "from", path, f"{where}.action"), path, f"{where}.action.from")
        to = (result.get("address") or "0x" + "0" * 40).lower() if isinstance(result, dict) else "0x" + "0" * 40
        inp, out = "0x", "0x"
    elif typ == "suicide":
        call_type = ""
        frm = _addr(_need(action, "address", path, f"{where}.action"), path, f"{where}.action.address")
        to = _addr(_need(action, "refundAddress", path, f"{where}.action"), path, f"{where}.action.refundAddress")
        inp, out = "0x", "0x"
        return Trace(tx, pos, tuple(ta), typ, "", frm, to, "0x", "0x",
                     _hex_int(action.get("balance", 0), path, f"{where}.action.balance"),
                     raw.get("error"), int(raw.get("subtraces", 0)), bn)
    else:
        raise MalformedBlockError(path, f"{where}.type", f"expected call/create/suicide/reward, got {typ!r}")
    value = _hex_int(action.get("value", "0x0"), path, f"{where}.action.value")
    return Trace(tx.lower(), pos, tuple(ta), typ, call_type, frm, to, inp.lower(), (out or "0x").lower(), value,
                 raw.get("error"), int(raw.get("subtraces", 0)), bn)


def _log(raw: Any, i: int, path: str) -> Log:
    where = f"logs[{i}]"
    topics = _need(raw, "topics", path, where)
    if not isinstance(topics, list):
        raise MalformedBlockError(path, f"{where}.topics", "expected a list")
    return Log(_addr(_need(raw, "address", path, where), path, f"{where}.address"),
               [t.lower() for t in topics], _need(raw, "data", path, where).lower(),
               _need(raw, "transactionHash", path, where).lower(),
               _hex_int(_need(raw, "logIndex", path, where), path, f"{where}.logIndex"))


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise MalformedBlockError(str(path), "(file)", f"cannot read: {e.strerror}") from None
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return json.loads(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise MalformedBlockError(str(path), "(gzip)", f"truncated or corrupt gzip: {e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MalformedBlockError(str(path), "(json)", f"not valid JSON ({e})") from None


def parse_block(obj: Any, path: str = "<memory>") -> Block:
    """A block from any of the two trace shapes (see the module docstring)."""
    if isinstance(obj, dict) and "block_number" in obj:
        bn = _hex_int(obj["block_number"], path, "block_number")
        traces_raw = _need(obj, "traces", path, "$")
        if not isinstance(traces_raw, list):
            raise MalformedBlockError(path, "traces", "expected a list")
        traces = [_trace(t, i, path, bn, True) for i, t in enumerate(traces_raw)]
        receipts = obj.get("receipts", [])
        if not isinstance(receipts, list):
            raise MalformedBlockError(path, "receipts", "expected a list")
        miner = obj.get("miner")
        return Block(bn, path, traces, miner.lower() if isinstance(miner, str) else None, [], receipts)
    if isinstance(obj, dict) and "traces" in obj:
        txs = [obj]
    elif isinstance(obj, list):
        txs = obj
    else:
        raise MalformedBlockError(path, "$", "expected a block object with block_number/traces, "
                                  "a {traces, logs} transaction or a list of them")
    traces: list[Trace] = []
    logs: list[Log] = []
    ti = li = 0
    for k, tx in enumerate(txs):
        traces_raw = _need(tx, "traces", path, f"[{k}]")
        if not isinstance(traces_raw, list):
            raise MalformedBlockError(path, f"[{k}].traces", "expected a list")
        for t in traces_raw:
            traces.append(_trace(t, ti, path, None))
            ti += 1
        for lg in tx.get("logs", []) or []:
            logs.append(_log(lg, li, path))
            li += 1
    if not traces:
        raise MalformedBlockError(path, "traces", "empty: a block needs at least one trace")
    return Block(traces[0].block_number, path, traces, None, logs, [])


def load_block(path: str | Path) -> Block:
    p = Path(path)
    return parse_block(_read_json(p), str(p))
