"""Runs that fail on purpose, for the sweep retry tests (picklable: module level, used through
functools.partial with the marker directory). The first run of each point leaves a marker file;
later runs find it and run the point for real."""
from __future__ import annotations

import json
import os
from pathlib import Path

from tradecore.backtest.sweep import run_point


def _first_run(marks: str, point: dict) -> bool:
    mark = Path(marks) / (json.dumps(point, sort_keys=True).replace("/", "_") + ".ran")
    try:
        mark.touch(exist_ok=False)
    except FileExistsError:
        return False
    return True


def raise_on_first_run(marks: str, config_path: str | None, point: dict) -> dict:
    if _first_run(marks, point):
        raise RuntimeError("injected failure of the first run")
    return run_point(config_path, point)


def die_on_first_run(marks: str, config_path: str | None, point: dict) -> dict:
    """The worker process exits without a word (a segfault or the OOM killer, as seen from
    the driver)."""
    if _first_run(marks, point):
        os._exit(17)
    return run_point(config_path, point)
