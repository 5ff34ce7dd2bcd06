"""A real nats-server with JetStream on a free 127.0.0.1 port, per test, stopped after.

Tests that need it skip (with the reason) only when the `nats-server` binary is absent; .ci
installs it (`.ci/install-system`)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

NATS = shutil.which("nats-server") or (
    "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NatsServer:
    """start / kill (SIGKILL: a crash, not a shutdown) / restart on the same port and store."""

    def __init__(self, store: Path) -> None:
        self.port = _free_port()
        self.monitor_port = _free_port()
        self.store = store
        self.proc: subprocess.Popen | None = None
        self.log = store / "nats.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            [NATS, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-m", str(self.monitor_port),
             "-sd", str(self.store)],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.proc.returncode}: "
                                   f"{self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server did not listen on {self.port} within {timeout} s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def nats_server(tmp_path):
    if NATS is None:
        pytest.skip("nats-server is not installed (apt-get install nats-server; "
                    ".ci/install-system does it in CI)")
    srv = NatsServer(tmp_path / "js")
    srv.store.mkdir()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
