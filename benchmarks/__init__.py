"""hubassoc's benchmarks: ``python -m benchmarks`` (see ``benchmarks/__main__.py``).

Modules: ``_sandbox_proc`` (the sandbox as a child process), ``_clients`` (one
function per contender), ``_efficiency``, ``_limits``, ``_latency`` and
``_backfill`` (the four sections), ``_profile`` (``--profile``), ``_report``
(``RESULTS.md`` and ``throughput.png``).
"""
