"""Where tests find real recorded data: bundled samples, and ../shared/data when present."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SAMPLES = ROOT / "src" / "tradecore" / "data" / "samples"


def shared_file(rel: str) -> Path:
    """A file of ../shared/data, or skip the test with the reason."""
    p = SHARED_DATA / rel
    if not p.is_file():
        pytest.skip(f"{p} is absent (../shared/data is not on this machine)")
    return p


def sample_file(name: str) -> Path:
    """A bundled real recording (src/tradecore/data/samples)."""
    p = SAMPLES / name
    assert p.is_file(), f"bundled sample {p} is missing"
    return p
