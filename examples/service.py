"""A service that reads and writes associations through one client, against the sandbox.

Run it from the repository root (``python examples/service.py``): it starts the
built-in sandbox, defines a label, then plays many concurrent request handlers,
as a web service would, each awaiting its own call. The client coalesces
them: hundreds of handlers cost a handful of batch requests, all paced in one
rolling window, with every page of every read followed.

Against HubSpot, drop the sandbox and build the client with your token (or
``HUBSPOT_ACCESS_TOKEN``) and, for your tier, ``rate_limit=hubassoc.RateLimit(190, 10)``.
"""

from __future__ import annotations

import asyncio

import hubassoc
from hubassoc.sandbox import Sandbox

CONTACTS = range(1, 201)
COMPANY = 9000


async def link_manager(
    client: hubassoc.AssociationsClient, contact: int, manager: hubassoc.AssociationSpec
) -> None:
    """POST /contacts/{contact}/manager: the contact's company, labelled."""
    await client.associate("contacts", contact, "companies", COMPANY, manager)


async def companies_of(client: hubassoc.AssociationsClient, contact: int) -> list[str]:
    """GET /contacts/{contact}/companies: every associated company, every page."""
    records = await client.get_associations("contacts", contact, "companies")
    return [record.to_object_id for record in records]


async def unlink(client: hubassoc.AssociationsClient, contact: int) -> None:
    """DELETE /contacts/{contact}/companies/{COMPANY}: every type between the two."""
    await client.archive("contacts", contact, "companies", COMPANY)


async def main() -> None:
    async with Sandbox(rate_limit=(100, 10.0)) as sandbox:
        # Contact 1 already has 1,200 companies: its read takes several pages.
        sandbox.seed_associations("contacts", "companies", [(1, i) for i in range(1, 1201)])
        async with hubassoc.AssociationsClient(sandbox.token, base_url=sandbox.url) as client:
            types = await client.labels.create(
                "contacts", "companies", label="Manager", name="manager"
            )
            manager = next(t.spec for t in types if t.label == "Manager")

            # Writes, then reads: each read waits for this client's earlier writes
            # from its record, so it sees them.
            writes = [link_manager(client, contact, manager) for contact in CONTACTS]
            reads = [companies_of(client, contact) for contact in CONTACTS]
            *_, first, second = await asyncio.gather(*writes, *reads[:2])
            rest = await asyncio.gather(*reads[2:])
            print(f"contact 1: {len(first)} companies; contact 2: {second}")
            print(f"every contact linked: {all(str(COMPANY) in r for r in rest)}")

            # An archive queued after a create of the same pair is sent after it.
            create = client.submit_associate("contacts", 500, "companies", COMPANY, manager)
            remove = client.submit_archive("contacts", 500, "companies", COMPANY)
            await asyncio.gather(create, remove)
            print(f"contact 500 after create then archive: {await companies_of(client, 500)}")

            await asyncio.gather(*(unlink(client, contact) for contact in CONTACTS))
        calls = sandbox.stats().operations
        print(f"{len(CONTACTS) * 3 + 3} handler calls took these requests: {calls}")


if __name__ == "__main__":
    asyncio.run(main())
