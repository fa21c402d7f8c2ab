"""Where and with what the benchmark ran: :class:`Machine`, gathered by :func:`machine_info`."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DISTRIBUTIONS", "Machine", "machine_info"]

ROOT = Path(__file__).resolve().parents[1]

#: The packages whose versions the report names.
DISTRIBUTIONS = (
    "hubassoc",
    "aiohttp",
    "msgspec",
    "aiolimiter",
    "hubspot-api-client",
    "hubspot-sdk",
)


@dataclass
class Machine:
    """The machine, the packages and the code a run measured."""

    cpu: str
    cores: int | None
    python: str
    versions: dict[str, str]
    urllib3: str
    date: str
    git: str  #: short commit, and whether hubassoc/ had uncommitted changes
    source_digest: str  #: sha256 prefix of hubassoc's sources
    command: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, ...] = field(default_factory=tuple)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _source_digest() -> str:
    """A digest of hubassoc's sources, to tie results to code that may be uncommitted."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "hubassoc").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def machine_info(command: str) -> Machine:
    """Where and with what the benchmark runs, before it starts."""
    head = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = _git("status", "--porcelain", "--", "hubassoc")
    return Machine(
        cpu=_cpu_model(),
        cores=os.cpu_count(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        versions={dist: _version(dist) for dist in DISTRIBUTIONS},
        urllib3=_version("urllib3"),
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        git=head + (" + uncommitted changes in hubassoc/" if dirty else ""),
        source_digest=_source_digest(),
        command=command,
        load_before=os.getloadavg(),
    )
