"""The sandbox in a process of its own: start, configure, reset, read stats, stop.

The benchmark process is the client process, so its ``time.process_time()``
is the client's CPU; the sandbox must not share it. It is started as
``python -m hubassoc sandbox --port 0`` and found by the one line it prints.
Run-time control goes through its ``/_sandbox/`` routes (with its token, which
is also the control token) with plain ``urllib`` (never timed).
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from types import TracebackType
from typing import Any

__all__ = ["SandboxProcess"]

_LISTENING = re.compile(r"hubassoc sandbox listening on (\S+) token=(\S+)")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class SandboxProcess:
    """``python -m hubassoc sandbox`` as a child process; a context manager.

    Raises:
        RuntimeError: the child exited or printed nothing usable within ``timeout``.
    """

    def __init__(self, *, token: str = "bench-token", timeout: float = 30.0) -> None:
        self.token = token
        self.url = ""
        self._timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        # Lives as long as the child, closed by close(): no with-block can hold it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115

    def __repr__(self) -> str:
        state = "running" if self._proc is not None and self._proc.poll() is None else "stopped"
        return f"<SandboxProcess {state} {self.url or '-'}>"

    def __enter__(self) -> SandboxProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pid(self) -> int:
        """The child's process id."""
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> None:
        """Start the child and wait for its ``listening on`` line."""
        command = [sys.executable, "-m", "hubassoc", "sandbox", "--port", "0"]
        command += ["--token", self.token]
        self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._stderr)
        assert self._proc.stdout is not None
        line = b""
        deadline = time.monotonic() + self._timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    self.close()
                    raise RuntimeError(f"the sandbox printed nothing in {self._timeout}s")
                chunk = os.read(self._proc.stdout.fileno(), 4096)
                if not chunk:
                    self.close()
                    raise RuntimeError(f"the sandbox exited early: {self.stderr_text()}")
                line += chunk
        match = _LISTENING.search(line.decode())
        if match is None:
            self.close()
            raise RuntimeError(f"unexpected sandbox output: {line!r}")
        self.url, self.token = match.group(1), match.group(2)

    def stderr_text(self) -> str:
        """What the child wrote to stderr so far (for error messages)."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-2000:]

    def close(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after 5 s). Idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        self._stderr.close()

    # -- control -------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        # The sandbox's control token is its API token unless told otherwise.
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def configure(self, **options: Any) -> dict[str, Any]:
        """``POST /_sandbox/config`` (e.g. ``rate_limit=[100, 10]``, ``latency=0.15``)."""
        config: dict[str, Any] = self._call("POST", "/_sandbox/config", options)
        return config

    def reset(self) -> None:
        """Forget stored pairs, counters, arrivals and the rolling window."""
        self._call("POST", "/_sandbox/reset", {})

    def stats(self) -> dict[str, Any]:
        """``GET /_sandbox/stats`` (requests, by_status, peak_window, pairs_created, ...)."""
        stats: dict[str, Any] = self._call("GET", "/_sandbox/stats")
        return stats

    def seed_associations(
        self,
        from_type: str,
        to_type: str,
        ranges: Sequence[tuple[str, int, int]],
        *,
        chunk: int = 20_000,
    ) -> int:
        """Store default associations without API requests (``POST /_sandbox/associations``).

        Each ``(from_id, first_to_id, count)`` associates the record with
        ``count`` records numbered from ``first_to_id``; sent ``chunk`` ranges
        a call. Returns how many pairs were new.
        """
        seeded = 0
        for start in range(0, len(ranges), chunk):
            body = {"from": from_type, "to": to_type, "ranges": list(ranges[start : start + chunk])}
            seeded += self._call("POST", "/_sandbox/associations", body)["seeded"]
        return seeded

    def cpu_seconds(self) -> float:
        """User + system CPU the child has used so far (Linux ``/proc``; 0.0 elsewhere)."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            return 0.0
        # After the command name: state is field 3, utime 14, stime 15 (1-based).
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
