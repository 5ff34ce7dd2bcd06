"""`tradecore mev inspect FILE [FILE ...] [--json]`: MEV found in recorded Ethereum blocks.

Wired into the `tradecore` command with `add_parser(subparsers)` (sets `func`, like the other
subcommands); also runnable alone: `python -m tradecore.mev.cli inspect FILE ...`.

--json prints one line per block: {"block_number", "swaps", "arbitrages", "sandwiches",
"liquidations", "jit_liquidity", ...} with mev-inspect-py's field names and amounts as exact
JSON integers (the stdlib json module: orjson refuses integers above 64 bits). A file that is not
a valid block is reported on stderr with the file and the field, the other files are still
inspected, and the exit status is 1.
"""
from __future__ import annotations

import argparse
import json
import sys

from tradecore.mev.inspect import Inspection, inspect_block
from tradecore.mev.traces import MalformedBlockError, load_block


def _short(h: str) -> str:
    return h[:14] + "…" if len(h) > 16 else h


def format_table(r: Inspection) -> str:
    d = r.to_json()
    lines = [f"block {r.block_number}  swaps {len(r.swaps)}  arbitrages {len(r.arbitrages)}  "
             f"sandwiches {len(r.sandwiches)}  liquidations {len(r.liquidations)}  "
             f"jit {len(r.jit_liquidity)}  transfers {d['transfers']}  unknown calls {d['unknown_calls']} "
             f"({d['unknown_contracts']} contracts)"]
    for a in r.arbitrages:
        lines.append(f"  arbitrage   {_short(a.transaction_hash)}  {len(a.swaps)} swaps  profit {a.profit_amount} "
                     f"of {_short(a.profit_token_address)}" + (f"  [{a.error}]" if a.error else ""))
    for s in r.sandwiches:
        lines.append(f"  sandwich    {_short(s.frontrun_swap.transaction_hash)} -> {_short(s.backrun_swap.transaction_hash)}"
                     f"  {len(s.sandwiched_swaps)} victims  by {_short(s.sandwicher_address)}  profit {s.profit_amount} "
                     f"of {_short(s.profit_token_address)}")
    for l in r.liquidations:
        lines.append(f"  liquidation {_short(l.transaction_hash)}  {l.protocol}  repaid {l.debt_purchase_amount} of "
                     f"{_short(l.debt_token_address)}  received {l.received_amount} of {_short(l.received_token_address)}")
    for j in r.jit_liquidity:
        lines.append(f"  jit         {_short(j.mint_transaction_hash)} -> {_short(j.burn_transaction_hash)}  pool "
                     f"{_short(j.pool_address)}  {len(j.swaps)} swaps  net {j.burn_token0_amount - j.mint_token0_amount}"
                     f" / {j.burn_token1_amount - j.mint_token1_amount}")
    return "\n".join(lines)


def _cmd_inspect(args: argparse.Namespace) -> int:
    status = 0
    for f in args.files:
        try:
            blk = load_block(f)
        except MalformedBlockError as e:
            print(f"tradecore mev inspect: {e}", file=sys.stderr)
            status = 1
            continue
        r = inspect_block(blk, strict_abi=args.strict_abi)
        if args.json:
            sys.stdout.write(json.dumps(r.to_json(), separators=(",", ":")) + "\n")
        else:
            print(format_table(r))
    return status


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("mev", help="MEV inspection of recorded Ethereum blocks")
    sub = p.add_subparsers(dest="mev_command", required=True)
    i = sub.add_parser("inspect", help="find swaps, arbitrages, sandwiches, liquidations, JIT liquidity",
                       description="Inspect block files: mev-inspect-py blocks (Parity trace_block + "
                                   "receipts), mev-inspect-rs fixtures (traces + logs), .json or .json.gz.")
    i.add_argument("files", nargs="+", metavar="FILE")
    i.add_argument("--json", action="store_true", help="one JSON object per block per line")
    i.add_argument("--strict-abi", action="store_true",
                   help="refuse non-canonical call data as mev-inspect-py's decoder does "
                        "(default: decode as the EVM executes it)")
    i.set_defaults(func=_cmd_inspect)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tradecore.mev.cli")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["mev", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
