"""One scripted run against the sandbox that meets every kind of trouble, for observability tests.

It meets a 503, a rolling-window 429, a record HubSpot does not find (in an
explicit batch and in a coalesced one), a single PUT, and then the daily
limit. Ids and the token are distinctive so that tests can look for them in
everything the run renders (events, metrics, spans, log records).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from hubassoc import AssociationsClient, BatchItemError, DailyLimitError
from hubassoc.sandbox import Sandbox

#: A token no other string in a run could contain by chance.
TOKEN = "pat-na1-5ec7e7-70ken-0b5e7a11y-d0-n07-1eak"
#: Record ids no other number in a run could contain by chance.
FROM_IDS = ("987654321", "987654322", "987654323")
TO_IDS = ("876543219", "876543218", "876543217")
MISSING = "987654322"  # HubSpot does not find this record
COALESCED_FROM = ("765432198", "765432197")
COALESCED_TO = ("654321987", "654321986")
PUT_PAIR = ("543219876", "432198765")
SECRETS = (TOKEN, *FROM_IDS, *TO_IDS, *COALESCED_FROM, *COALESCED_TO, *PUT_PAIR)

#: The sandbox of the run: it checks TOKEN, sends rate-limit headers, counts a daily budget.
SANDBOX_OPTIONS: dict[str, Any] = {
    "token": TOKEN,
    "rate_limit": (50, 10.0),
    "daily_limit": 1000,
    "not_found_ids": {MISSING, COALESCED_FROM[1]},
}


async def scripted_run(
    sandbox: Sandbox, make_client: Callable[..., AssociationsClient], **options: Any
) -> AssociationsClient:
    """Run the script with a client made by ``make_client(sandbox, **options)``; return it."""
    # Adaptive pacing (rate_limit=None) learns the sandbox's 50/10 s from its headers.
    client = make_client(sandbox, rate_limit=None, **options)

    # 1. An explicit batch: a 503, then a 429, then an answer with one record not found.
    sandbox.script([503, (429, 0.02)])  # the 429 asks for a 20 ms pause
    outcome = await client.batch_associate_default(
        "contacts", "companies", list(zip(FROM_IDS, TO_IDS, strict=True))
    )
    assert not outcome.ok
    assert isinstance(outcome.result((FROM_IDS[0], TO_IDS[0])), object)
    with pytest.raises(BatchItemError):
        outcome.result((MISSING, TO_IDS[1]))

    # 2. Two coalesced calls, one of them for a record not found.
    found, missing = await asyncio.gather(
        *(
            client.associate_default("contacts", f, "companies", t)
            for f, t in zip(COALESCED_FROM, COALESCED_TO, strict=True)
        ),
        return_exceptions=True,
    )
    assert not isinstance(found, BaseException)
    assert isinstance(missing, BatchItemError)

    # 3. A single PUT: its path carries ids, its events and logs must not.
    await client.put_default("deals", PUT_PAIR[0], "contacts", PUT_PAIR[1])

    # 4. The day's budget is spent: a 429 DAILY stops the client, the next call fails fast.
    sandbox.configure(daily_limit=sandbox.stats().daily_used)
    with pytest.raises(DailyLimitError):
        await client.batch_associate_default("contacts", "companies", [(FROM_IDS[0], TO_IDS[0])])
    with pytest.raises(DailyLimitError):
        await client.associate_default("contacts", FROM_IDS[2], "companies", TO_IDS[2])
    return client
