"""`RedisProcess`: a throwaway ``redis-server`` on a free port of 127.0.0.1, for the benchmark.

Nothing is saved to disk (no RDB, no AOF); the server is stopped (SIGTERM,
then SIGKILL) when the ``with`` block ends.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

__all__ = ["RedisProcess", "redis_server_path"]


def redis_server_path() -> str | None:
    """Where ``redis-server`` is, or None when it is not installed."""
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if shutil.which("/usr/bin/redis-server") else None
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisProcess:
    """A ``redis-server`` child process; ``url`` is ``redis://127.0.0.1:PORT/0``.

    Raises:
        RuntimeError: ``redis-server`` is missing or did not come up in ``timeout`` s.
    """

    def __init__(self, *, timeout: float = 10.0) -> None:
        self._timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0
        self.url = ""

    def __repr__(self) -> str:
        state = "running" if self._proc is not None else "stopped"
        return f"<RedisProcess {state} {self.url or '(no port)'}>"

    def __enter__(self) -> RedisProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the server and wait until it answers ``PING``."""
        server = redis_server_path()
        if server is None:
            raise RuntimeError("redis-server is not installed")
        self._dir = tempfile.TemporaryDirectory(prefix="bench-redis-")
        self.port = _free_port()
        command = [server, "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", self._dir.name]
        self._proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if self._ping():
                return
            time.sleep(0.05)
        self.close()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def close(self) -> None:
        """Stop the server. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
