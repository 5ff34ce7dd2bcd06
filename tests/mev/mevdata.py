"""Shared loaders for the MEV tests: each block is read and inspected once per session."""
from __future__ import annotations

import functools
import gzip
import json

from datafiles import shared_file
from tradecore.mev.inspect import Inspection, inspect_block
from tradecore.mev.traces import Block, load_block


@functools.lru_cache(maxsize=None)
def block(rel: str) -> Block:
    return load_block(shared_file(f"mev/{rel}"))


@functools.lru_cache(maxsize=None)
def inspected(rel: str, strict_abi: bool = False) -> Inspection:
    return inspect_block(block(rel), strict_abi)


@functools.lru_cache(maxsize=None)
def labels() -> dict:
    return json.loads(shared_file("mev/labels.json").read_text())


@functools.lru_cache(maxsize=None)
def reference_output() -> dict:
    return json.load(gzip.open(shared_file("mev/mev_inspect_py/reference_output.json.gz")))


def js_cases(name: str) -> list[dict]:
    return json.loads(shared_file(f"mev/mev_inspect_js/{name}.json").read_text())["cases"]
