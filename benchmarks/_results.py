"""`Results`: every section's typed result of one run, and its ``results.json`` form.

The report (``benchmarks/_report/``) renders a `Results`; ``--render`` reads
one back from the JSON an earlier run wrote, with every nested result typed
again (``msgspec.convert``), so the report never works on untyped dicts.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from benchmarks._backfill import BackfillResult
from benchmarks._efficiency import EfficiencyResult
from benchmarks._latency import LatencyResult
from benchmarks._limits import LimitsResult
from benchmarks._machine import Machine
from benchmarks._pacing import PacingResult
from benchmarks._reads import ReadsResult

__all__ = ["Results", "load_results", "write_results"]


@dataclass
class Results:
    """One run: where it ran, each section's result (None if not run), and how long it took."""

    machine: Machine
    efficiency: EfficiencyResult | None = None
    limits: LimitsResult | None = None
    latency: LatencyResult | None = None
    backfill: BackfillResult | None = None
    pacing: PacingResult | None = None
    reads: ReadsResult | None = None
    elapsed: float = 0.0  #: seconds


def write_results(path: Path, results: Results, args: dict[str, Any]) -> None:
    """Write ``results`` and the arguments of the run as JSON (NaN stays NaN)."""
    raw = dataclasses.asdict(results)
    raw["args"] = args
    path.write_text(json.dumps(raw, indent=1, default=str))


def load_results(path: Path) -> Results:
    """The `Results` an earlier run wrote to ``path``.

    Raises:
        msgspec.ValidationError: the file does not hold a run's results.
    """
    raw = json.loads(path.read_text())
    backfill = raw.get("backfill")
    if backfill is not None and not backfill.get("summary"):
        backfill["summary"] = None  # older files wrote {} for "every run failed"
    return msgspec.convert(raw, Results, strict=False)
