"""Run a test body in a forked child, so that a kernel bug that corrupts memory fails one test
(or one Hypothesis example, which then shrinks) instead of killing the whole test run."""
from __future__ import annotations

import faulthandler
import os
import select
import signal
import time
import traceback


CHILD_TIMEOUT = 10.0           # seconds; an example takes milliseconds, a corrupted heap can deadlock


def run_isolated(fn, *args) -> None:
    """Run fn(*args) in a forked child; re-raise its failure, its death by a signal or its hang
    here as an AssertionError, so that Hypothesis can shrink a stream that crashes the kernel."""
    if not hasattr(os, "fork"):
        fn(*args)
        return
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # child
        code = 0
        try:
            faulthandler.disable()                 # the parent reports the signal
            os.close(r)
            try:
                fn(*args)
                payload = b""
            except BaseException:                  # noqa: BLE001 - everything goes to the parent
                payload = traceback.format_exc().encode()
                code = 1
            with os.fdopen(w, "wb") as f:
                f.write(payload)
        finally:
            os._exit(code)
    os.close(w)
    chunks, deadline, hung = [], time.monotonic() + CHILD_TIMEOUT, False
    with os.fdopen(r, "rb", buffering=0) as f:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([f], [], [], left)[0]:
                hung = True
                os.kill(pid, signal.SIGKILL)
                break
            chunk = f.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if hung:
        raise AssertionError(f"the kernel hung for {CHILD_TIMEOUT} s (a deadlock in a corrupted "
                             f"heap?)")
    if os.WIFSIGNALED(status):
        raise AssertionError(f"the kernel crashed the process with "
                             f"{signal.Signals(os.WTERMSIG(status)).name} (memory corruption)")
    if os.WEXITSTATUS(status) != 0:
        raise AssertionError("in the forked child:\n" + b"".join(chunks).decode(errors="replace"))
