"""One process of a multi-process run on a shared budget: associate a range of pairs.

``python -m tests.shared_worker BASE_URL REDIS_URL KEY START COUNT REQUESTS PER``
associates ``COUNT`` contact/company pairs from ``START`` through the coalescer,
pacing on the Redis budget ``KEY`` at ``REQUESTS`` per ``PER`` seconds, then
prints one JSON line: pairs done, pairs failed (with their error types),
requests and 429s. The token comes from ``HUBSPOT_ACCESS_TOKEN``. Exit 0 when
no caller failed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter

from hubassoc import AssociationsClient, RateLimit, RedisBudget, RetryPolicy


async def main(argv: list[str]) -> int:
    base_url, redis_url, key, start, count, requests, per = argv
    first, total = int(start), int(count)
    client = AssociationsClient(
        base_url=base_url,
        rate_limit=RateLimit(int(requests), float(per)),
        shared_budget=RedisBudget(redis_url, key=key),
        retry=RetryPolicy(max_retries=8, backoff_base=0.01, backoff_cap=0.2),
        max_batch_size=10,
    )
    async with client:
        outcomes = await asyncio.gather(
            *(
                client.associate_default("contacts", i, "companies", 900_000 + i)
                for i in range(first, first + total)
            ),
            return_exceptions=True,
        )
    failed = Counter(type(o).__name__ for o in outcomes if isinstance(o, BaseException))
    print(
        json.dumps(
            {
                "done": total - sum(failed.values()),
                "failed": dict(failed),
                "requests": client.stats.requests,
                "rate_limited": client.stats.rate_limited,
            }
        ),
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
