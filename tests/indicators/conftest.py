"""Numba's cache (`cache=True`) is keyed on each kernel's own file: a kernel of overlap.py
that calls a changed kernel of _core.py would load its old machine code with no error
(ANCHORS §4, pitfall 14). Before the indicator tests run, drop every cached kernel older
than a module whose kernels other modules call (_core, overlap, trend), so the tests always
run the current code. A change to a kernel's own module is detected by Numba itself."""
from __future__ import annotations

from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "src" / "tradecore" / "indicators"
SHARED_KERNELS = ("_core.py", "overlap.py", "trend.py")


def _drop_stale_numba_cache() -> None:
    newest = max((PKG / f).stat().st_mtime for f in SHARED_KERNELS)
    for f in list(PKG.glob("__pycache__/*.nbi")) + list(PKG.glob("__pycache__/*.nbc")):
        if f.stat().st_mtime < newest:
            f.unlink(missing_ok=True)


_drop_stale_numba_cache()
