"""One of K client processes sharing one rolling window (the ``pacing`` section's part d).

Run as ``python -m benchmarks._pacing_worker URL FIRST_ID PAIRS START_AT REQUESTS WINDOW
[REDIS_URL KEY]`` with the token in ``HUBSPOT_ACCESS_TOKEN``. It waits until
the monotonic clock reads ``START_AT`` (so every process starts together and
none counts its interpreter's start-up), sends ``PAIRS`` fresh pairs through
``associate_default`` (all gathered) and prints one JSON line: its counts, its
CPU, and when each pair completed (seconds after ``START_AT``).

With ``REDIS_URL`` the client holds to ``RateLimit(REQUESTS, WINDOW)`` through
a shared :class:`hubassoc.RedisBudget` on ``KEY``; without it, the client is
adaptive (``rate_limit=None``) and learns the window from HubSpot's headers.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import hubassoc
from benchmarks._clients import FROM_TYPE, TO_TYPE, IdSource

__all__ = ["main"]

TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"


async def _work(argv: list[str]) -> dict[str, Any]:
    url, first_id, count, start_at = argv[0], int(argv[1]), int(argv[2]), float(argv[3])
    requests, window = int(argv[4]), float(argv[5])
    options: dict[str, Any] = {"rate_limit": None}
    budget: Any = None
    if len(argv) > 6:
        budget = hubassoc.RedisBudget(argv[6], key=argv[7])
        options = {"rate_limit": hubassoc.RateLimit(requests, window), "shared_budget": budget}
    pairs = IdSource(first_id).pairs(count)
    loop = asyncio.get_running_loop()
    client = hubassoc.AssociationsClient(os.environ[TOKEN_ENV], base_url=url, **options)
    done: list[float] = []
    call = client.associate_default

    async def one(from_id: str, to_id: str) -> None:
        await call(FROM_TYPE, from_id, TO_TYPE, to_id)
        done.append(round(loop.time() - start_at, 4))

    # Positive if this interpreter came up after the common start (it then starts late).
    late = time.monotonic() - start_at
    try:
        await asyncio.sleep(max(0.0, -late))
        cpu0 = time.process_time()
        answers = await asyncio.gather(*[one(f, t) for f, t in pairs], return_exceptions=True)
        cpu = time.process_time() - cpu0
    finally:
        await client.aclose()
        close = getattr(budget, "aclose", None)
        if close is not None:
            await close()
    errors = [a for a in answers if isinstance(a, BaseException)]
    stats = client.stats
    return {
        "pairs": count,
        "ok": count - len(errors),
        "failed": len(errors),
        "first_error": repr(errors[0])[:300] if errors else "",
        "requests": stats.requests,
        "rate_limited": stats.rate_limited,
        "cpu": cpu,
        "late_start": max(0.0, late),
        "done": done,
    }


def main(argv: list[str]) -> int:
    if len(argv) not in (6, 8):
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(asyncio.run(_work(argv))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
