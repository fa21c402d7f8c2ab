"""Number formats and markdown tables, as every section of the report writes them."""

from __future__ import annotations

import math

__all__ = ["n", "pct", "reps", "table", "x"]


def n(value: float | None, digits: int = 0) -> str:
    """``12,345`` (``n/a`` for a missing figure)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def pct(value: float | None) -> str:
    """``97.5%`` (``n/a`` for a missing figure)."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.1%}"


def x(value: float | None) -> str:
    """A ratio: ``1.25x``, ``12.5x`` (``n/a`` for a missing figure)."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


def reps(count: int) -> str:
    """``1 repetition``, ``3 repetitions``."""
    return f"{count} repetition" + ("" if count == 1 else "s")


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    """A markdown table; ``align`` has one letter per column (``l``, ``r``, ``c``)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines
