"""Shared test set-up: stale-extension guard and the location of the real recorded data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (derandomize): a green run here is a green
# CI run, and a failure reproduces. HYPOTHESIS_PROFILE=explore draws fresh examples each run,
# which is how new inputs are searched for (and how the arb and MEV loops were found).
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
FAST = ROOT / "src" / "tradecore" / "_fast"


def _session_twin_dir() -> None:
    """Journals keep their twin on /dev/shm (execution/journal.py). A test that kills a writer
    leaves its twin, and the test's journal file goes with tmp_path: so this session's twins
    go to a directory of their own on the same tmpfs (subprocesses inherit it), removed at exit.
    """
    import atexit
    import shutil
    import tempfile

    if "TRADECORE_JOURNAL_TWIN_DIR" in os.environ or not os.access("/dev/shm", os.W_OK):
        return
    d = tempfile.mkdtemp(prefix="tradecore-test-twins-", dir="/dev/shm")
    os.environ["TRADECORE_JOURNAL_TWIN_DIR"] = d
    atexit.register(shutil.rmtree, d, True)


_session_twin_dir()


def pytest_configure(config: pytest.Config) -> None:
    # A .so older than its .pyx/.pxd runs old code with no error anywhere: refuse to test it.
    for src in list(FAST.glob("*.pyx")) + list(FAST.glob("*.pxd")):
        for so in FAST.glob(src.stem + ".*.so"):
            if so.stat().st_mtime < src.stat().st_mtime:
                raise pytest.UsageError(f"{so.name} is older than {src.name}: run `make build`")


@pytest.fixture(params=[True, False], ids=["compiled_submit", "python_submit"])
def both_submits(request, monkeypatch):
    """Run a test with the execution engine's compiled submit (_fast/orderpath.pxd) and with
    its Python reference (ExecutionEngine.submit): a module opts in with
    `pytestmark = pytest.mark.usefixtures("both_submits")`."""
    import tradecore.execution.engine as eng
    monkeypatch.setattr(eng, "COMPILED_SUBMIT", request.param)
    return request.param


@pytest.fixture(autouse=True)
def _restore_logging():
    """Commands under test configure logging (basicConfig on a captured stderr, JSON output,
    per-component levels); put the root logger back after each test so that a later log line
    from a background thread never writes to a stream pytest has closed, and the package's
    loggers' levels, so that no test silences another's log lines."""
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: lg.level for name, lg in logging.Logger.manager.loggerDict.items()
              if name.startswith("tradecore") and isinstance(lg, logging.Logger)}
    yield
    for h in root.handlers[:]:
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)
    for name, lg in logging.Logger.manager.loggerDict.items():
        if name.startswith("tradecore") and isinstance(lg, logging.Logger):
            lg.setLevel(levels.get(name, logging.NOTSET))
