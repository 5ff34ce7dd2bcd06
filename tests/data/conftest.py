"""Fixtures of the data-store tests: live runs of bundled captures, recorded once."""
from __future__ import annotations

import pytest

from recording_helpers import LiveRun, record_live

_runs: dict[tuple, LiveRun] = {}


@pytest.fixture(scope="session")
def live_run(tmp_path_factory):
    """live_run(venue, sample name, **recorder options): recorded once per session."""
    from datafiles import sample_file

    def get(venue: str, name: str, **options) -> LiveRun:
        k = (venue, name, tuple(sorted(options.items())))
        if k not in _runs:
            root = tmp_path_factory.mktemp(f"store-{venue}")
            _runs[k] = record_live(venue, [sample_file(name)], root, **options)
        return _runs[k]
    return get
