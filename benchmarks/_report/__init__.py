"""The report: ``RESULTS.md`` (also printed) and ``throughput.png``, from a run's `Results`.

Modules, one concern each: ``fmt`` (number formats, tables), ``verdicts``
(the targets and whether they were met), one module per section
(``efficiency``, ``limits``, ``latency``, ``backfill``, ``pacing``,
``reads``), ``document`` (the whole markdown file) and ``chart``
(matplotlib). Where the run happened is ``benchmarks/_machine.py``; the
results themselves, ``benchmarks/_results.py``.
"""

from benchmarks._report.chart import write_chart
from benchmarks._report.document import markdown

__all__ = ["markdown", "write_chart"]
