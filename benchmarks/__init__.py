"""hubassoc's benchmarks: ``python -m benchmarks`` (see ``benchmarks/__main__.py``).

Modules: ``_sandbox_proc`` (the sandbox as a child process), ``_clients`` (one
function per contender; ``_read_clients`` for the reads), ``_efficiency``,
``_limits``, ``_latency``, ``_backfill``, ``_pacing`` and ``_reads`` (the
sections, each returning a typed result; ``_pacing_worker`` is one of the
pacing section's client processes and ``_redis_proc`` its throwaway
``redis-server``), ``_profile`` (``--profile``), ``_machine`` (where the run
happened), ``_results`` (all of a run's results and their JSON form) and
``_report/`` (``RESULTS.md`` and ``throughput.png``).
"""
