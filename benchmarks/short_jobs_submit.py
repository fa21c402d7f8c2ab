"""Short jobs given with ``submit_default``: section 5b's jobs without a coroutine per pair.

``python -m benchmarks.short_jobs_submit`` runs 4 windows' worth of requests
at 20/1 s (15 ms round trip) and at 100/10 s (150 ms round trip) against the
sandbox in its own process, 3 repetitions each, ``max_concurrency=16``, and
prints each wall time as a share of what the rolling window allows
(``ceil(N / limit) - 1`` windows). Section 5b gives the same pairs as one
awaited ``associate_default`` each; the difference between the two is
asyncio's cost of making and waking one task per pair.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from benchmarks._clients import FROM_TYPE, TO_TYPE, IdSource, Pair
from benchmarks._sandbox_proc import SandboxProcess
from hubassoc import AssociationsClient, RateLimit

__all__ = ["main"]

JOBS = ((20, 1.0, 0.015), (100, 10.0, 0.15))  # requests, window, round trip
WINDOWS = 4
REPEAT = 3
CONCURRENCY = 16


async def _job(url: str, token: str, limit: RateLimit, pairs: list[Pair]) -> tuple[float, int]:
    client = AssociationsClient(token, base_url=url, rate_limit=limit, max_concurrency=CONCURRENCY)
    started = time.perf_counter()
    await asyncio.gather(*[client.submit_default(FROM_TYPE, f, TO_TYPE, t) for f, t in pairs])
    wall = time.perf_counter() - started
    await client.aclose()
    return wall, client.stats.rate_limited


def main() -> None:
    ids = IdSource(50_000_000)
    with SandboxProcess() as sandbox:
        for requests, window, round_trip in JOBS:
            sandbox.configure(rate_limit=[requests, window], latency=round_trip, jitter=0.0)
            allowed = (WINDOWS - 1) * window
            walls = []
            for rep in range(REPEAT):
                sandbox.reset()
                pairs = ids.pairs(WINDOWS * requests * 100)
                limit = RateLimit(requests, window)
                wall, limited = asyncio.run(_job(sandbox.url, sandbox.token, limit, pairs))
                walls.append(wall)
                print(
                    f"{requests}/{window:g} s rep {rep + 1}: {wall:.2f} s = "
                    f"{allowed / wall:.1%} of allowed, 429s {limited}",
                    flush=True,
                )
            wall = statistics.median(walls)
            print(f"{requests}/{window:g} s median {wall:.2f} s = {allowed / wall:.1%} of allowed")


if __name__ == "__main__":
    main()
