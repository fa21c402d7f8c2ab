"""A real ``redis-server`` on a free port of 127.0.0.1, for the tests that need one.

Registered as a pytest plugin by ``tests/conftest.py``. Use the fixtures::

    async def test_something(redis_server: RedisServer) -> None:
        budget = RedisBudget(redis_server.url, key="test")
        ...
        redis_server.stop()     # an outage; .start() brings it back on the same port
        redis_server.freeze()   # SIGSTOP: a server that accepts but never answers; .thaw()

``redis_url`` is the URL alone. Each test gets its own server (it starts in a
few milliseconds), so a test may stop, freeze or flush it freely.

Without ``redis-server`` on PATH the tests skip, unless the environment sets
``HUBASSOC_REQUIRE_REDIS=1`` (CI does): then they fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["RedisServer", "redis_server", "redis_url"]

_START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_ping(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process on ``port``: no persistence, loopback only."""

    def __init__(self, executable: str, directory: Path) -> None:
        self.executable = executable
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        state = "running" if self.process is not None else "stopped"
        return f"<RedisServer 127.0.0.1:{self.port} {state}>"

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        """The server's process id (it must be running)."""
        assert self.process is not None, "the server is not running"
        return self.process.pid

    def start(self) -> None:
        """Start the server on ``port`` and wait until it answers PING."""
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while not _answers_ping(self.port):
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"redis-server exited at start on port {self.port}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING on port {self.port}")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the server (an outage); :meth:`start` restarts it on the same port."""
        process, self.process = self.process, None
        if process is None:
            return
        # A frozen process would not act on SIGTERM until continued.
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        """Stop the server and start it again on the same port, empty."""
        self.stop()
        self.start()

    def freeze(self) -> None:
        """SIGSTOP the server: connections are accepted by the kernel, nothing is answered."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT a frozen server."""
        os.kill(self.pid, signal.SIGCONT)


def _executable() -> str:
    found = shutil.which("redis-server")
    if found is None:
        message = "redis-server not found: install it (Debian: apt-get install redis-server)"
        if os.environ.get("HUBASSOC_REQUIRE_REDIS") == "1":
            pytest.fail(message + "; HUBASSOC_REQUIRE_REDIS=1 requires it")
        pytest.skip(message)
    return found


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A started :class:`RedisServer` of this test's own, stopped after it."""
    executable = _executable()
    for attempt in range(3):
        server = RedisServer(executable, tmp_path_factory.mktemp("redis"))
        try:
            server.start()
            break
        except RuntimeError:
            # Another process took the free port between probe and start.
            if attempt == 2:
                raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of this test's own ``redis_server``."""
    return redis_server.url
