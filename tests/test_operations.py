"""Labelled associations, archives and complete reads, coalesced and in explicit
batches, against the sandbox on 127.0.0.1, on every API version."""

from __future__ import annotations

import asyncio
import json

import pytest

from hubassoc import (
    AssociationSpec,
    BatchItemError,
    LabelsBetweenObjectPair,
    MultiAssociatedObjectWithLabel,
    events,
)
from hubassoc.sandbox import Sandbox

from .conftest import ClientFactory, SandboxFactory

VERSIONS = ["v4", "2026-03", "2026-09"]
DEFAULT = AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=279)


def label_spec(sandbox: Sandbox, label: str = "Decision maker") -> AssociationSpec:
    defined = sandbox.define_label("contacts", "companies", label)
    (forward,) = [t for t in defined if t["label"] == label]
    return AssociationSpec(
        association_category=forward["category"], association_type_id=forward["typeId"]
    )


def types_of(records: list[MultiAssociatedObjectWithLabel]) -> dict[str, set[tuple[str, int]]]:
    return {r.to_object_id: {(t.category, t.type_id) for t in r.association_types} for r in records}


class Requests:
    """Counts requests by route template ending (``batch/read``, ...) and their sizes."""

    def __init__(self) -> None:
        self.sizes: dict[str, list[int]] = {}

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.RequestSent):
            action = event.route.split("/batch/", 1)[-1]
            self.sizes.setdefault(action, []).append(event.batch_size)


@pytest.mark.parametrize("version", VERSIONS)
async def test_associate_archive_labels_archive_and_read_coalesced(
    sandbox: Sandbox, make_client: ClientFactory, version: str
) -> None:
    client = make_client(api_version=version)
    label = label_spec(sandbox)
    made = await asyncio.gather(
        client.associate("contacts", 1, "companies", 10, [DEFAULT, label]),
        client.associate("contacts", "1", "companies", "11", DEFAULT),
        client.associate("contacts", 2, "companies", 20, label),
    )
    assert all(isinstance(m, LabelsBetweenObjectPair) for m in made)
    assert [(m.from_object_id, m.to_object_id) for m in made] == [
        ("1", "10"),
        ("1", "11"),
        ("2", "20"),
    ]
    assert "Decision maker" in made[0].labels
    pairs = (DEFAULT.association_category, DEFAULT.association_type_id)
    labelled = (label.association_category, label.association_type_id)
    assert types_of(await client.get_associations("contacts", 1, "companies")) == {
        "10": {pairs, labelled},
        "11": {pairs},
    }
    assert await client.archive_labels("contacts", 1, "companies", 10, label) is None
    assert sandbox.associations("contacts", "companies", 1) == {"10": [pairs], "11": [pairs]}
    assert await client.archive("contacts", 1, "companies", 11) is None
    assert types_of(await client.get_associations("contacts", 1, "companies")) == {"10": {pairs}}


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_page_of_every_record_is_read(
    sandbox_factory: SandboxFactory, make_client: ClientFactory, version: str
) -> None:
    sandbox = await sandbox_factory(read_page_size=7)
    counts = {"1": 0, "2": 1, "3": 7, "4": 8, "5": 50}
    sandbox.seed_associations(
        "contacts",
        "companies",
        [(f, str(1000 * int(f) + n)) for f, count in counts.items() for n in range(count)],
    )
    requests = Requests()
    client = make_client(sandbox, api_version=version, on_event=requests)
    results = await asyncio.gather(
        *(client.get_associations("contacts", f, "companies") for f in counts)
    )
    assert [len(r) for r in results] == list(counts.values())
    assert {r.to_object_id for r in results[4]} == {str(5000 + n) for n in range(50)}
    # First round: one request for every record; then the records with more
    # pages ask for them together (4 and 5 after page 1, then 5 alone).
    assert requests.sizes["read"][:3] == [5, 2, 1]
    assert len(requests.sizes["read"]) == 1 + 1 + 6  # 50 associations: 8 pages of 7

    outcome = await client.batch_read("contacts", "companies", [5, "4", "404", 5])
    assert outcome.inputs == ["5", "4", "404"]
    assert len(outcome.result("5")) == 50 and len(outcome.result("4")) == 8
    assert outcome.result("404") == []  # no associations is an empty list, not an error


@pytest.mark.parametrize("as_object", [False, True], ids=["string", "object"])
@pytest.mark.parametrize("version", VERSIONS)
async def test_no_associations_reported_as_an_error_is_an_empty_list(
    sandbox_factory: SandboxFactory, make_client: ClientFactory, version: str, as_object: bool
) -> None:
    sandbox = await sandbox_factory(
        no_associations_errors=True, numeric_object_ids=True, subcategory_object=as_object
    )
    sandbox.seed_associations("contacts", "companies", [(1, 2)])
    client = make_client(sandbox, api_version=version)
    empty, one = await asyncio.gather(
        client.get_associations("contacts", 7, "companies"),
        client.get_associations("contacts", 1, "companies"),
    )
    assert empty == []
    assert [r.to_object_id for r in one] == ["2"]  # a JSON number on the wire, a str here


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_missing_record_fails_its_own_callers_only(
    sandbox_factory: SandboxFactory, make_client: ClientFactory, version: str
) -> None:
    sandbox = await sandbox_factory(not_found_ids={"404"})
    client = make_client(sandbox, api_version=version)
    answers = await asyncio.gather(
        client.associate("contacts", 404, "companies", 1, DEFAULT),
        client.associate("contacts", 1, "companies", 2, DEFAULT),
        client.archive("contacts", 404, "companies", 1),
        client.archive("contacts", 3, "companies", 4),
        client.archive_labels("contacts", 404, "companies", 1, DEFAULT),
        client.get_associations("contacts", 404, "companies"),
        client.get_associations("contacts", 1, "companies"),
        return_exceptions=True,
    )
    failed = [i for i, a in enumerate(answers) if isinstance(a, BaseException)]
    # v4 answers an archive with 204 and no body: nothing to fail an input with.
    assert failed == ([0, 5] if version == "v4" else [0, 2, 4, 5])
    assert all(isinstance(answers[i], BatchItemError) for i in failed)


@pytest.mark.parametrize("version", VERSIONS)
async def test_order_per_pair_and_read_your_writes(
    sandbox: Sandbox, make_client: ClientFactory, version: str
) -> None:
    client = make_client(api_version=version)
    # Submitted without awaiting: each must be sent after the one before settled.
    steps = [
        client.submit_default("contacts", 1, "companies", 2),
        client.submit_archive("contacts", 1, "companies", 2),
        client.submit_associate("contacts", 1, "companies", 2, DEFAULT),
        client.submit_archive("contacts", 1, "companies", 2),
        client.submit_default("contacts", 1, "companies", 3),
    ]
    read = client.submit_get_associations("contacts", 1, "companies")
    await asyncio.gather(*steps)
    assert [r.to_object_id for r in await read] == ["3"]
    assert sandbox.associations("contacts", "companies", 1) == {"3": [("HUBSPOT_DEFINED", 279)]}

    # The pair named from the other side is the same pair: the archive waits
    # for the create, the read of the other side for the archive.
    again = client.submit_associate("contacts", 1, "companies", 3, DEFAULT)
    archived = client.submit_archive("companies", 3, "contacts", 1)
    assert await client.get_associations("companies", 3, "contacts") == []
    await asyncio.gather(again, archived)
    assert sandbox.associations("contacts", "companies", 1) == {}


@pytest.mark.parametrize("version", VERSIONS)
async def test_explicit_batches_key_by_input_and_merge_types(
    sandbox: Sandbox, make_client: ClientFactory, version: str
) -> None:
    client = make_client(api_version=version)
    label = label_spec(sandbox)
    created = await client.batch_associate(
        "contacts",
        "companies",
        [(1, 10, DEFAULT), ("1", "10", [label, DEFAULT]), (2, 20, [DEFAULT])],
    )
    assert created.ok and created.inputs == [("1", "10"), ("2", "20")]
    assert created.result(("1", "10")).to_object_id == "10"
    assert sorted(sandbox.associations("contacts", "companies", 1)["10"]) == sorted(
        [("HUBSPOT_DEFINED", 279), (label.association_category, label.association_type_id)]
    )
    removed = await client.batch_archive_labels("contacts", "companies", [(1, 10, label)])
    assert removed.ok and removed.result(("1", "10")) is None
    archived = await client.batch_archive(
        "contacts", "companies", [(1, 10), (1, 11), (2, 20), (1, 10)]
    )
    assert archived.ok and archived.inputs == [("1", "10"), ("1", "11"), ("2", "20")]
    assert sandbox.associations("contacts", "companies", 1) == {}


async def test_reads_never_carry_more_than_1000_ids(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    requests = Requests()
    client = make_client(on_event=requests, max_batch_size=5000)
    sandbox.seed_associations("contacts", "companies", [(n, n + 1) for n in range(1, 2501)])
    outcome = await client.batch_read("contacts", "companies", range(1, 2501))
    assert outcome.ok and all(len(r) == 1 for _, r in outcome)
    assert requests.sizes["read"] == [1000, 1000, 500]
    coalesced = await asyncio.gather(
        *(client.get_associations("contacts", n, "companies") for n in range(1, 2501))
    )
    assert all(len(r) == 1 for r in coalesced)
    assert max(requests.sizes["read"]) == 1000


async def test_bad_input_is_refused_before_anything_is_sent(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    client = make_client()
    with pytest.raises(ValueError, match="empty"):
        await client.associate("contacts", 1, "companies", 2, [])
    with pytest.raises(TypeError, match="AssociationSpec"):
        await client.associate("contacts", 1, "companies", 2, ("HUBSPOT_DEFINED", 279))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="AssociationSpec"):
        client.submit_archive_labels("contacts", 1, "companies", 2, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="from_id"):
        client.submit_archive("contacts", "x", "companies", 2)
    with pytest.raises(ValueError, match="to_type"):
        await client.get_associations("contacts", 1, "")
    with pytest.raises(ValueError, match=r"inputs\[1\]"):
        await client.batch_associate("contacts", "companies", [(1, 2, DEFAULT), (1, 2)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"ids\[2\]"):
        await client.batch_read("contacts", "companies", [1, 2, -3])
    with pytest.raises(TypeError, match="ids must be"):
        await client.batch_read("contacts", "companies", "123")
    assert sandbox.stats().requests == 0


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_poisoned_input_fails_alone_in_every_operation(
    sandbox_factory: SandboxFactory, make_client: ClientFactory, version: str
) -> None:
    sandbox = await sandbox_factory(poison_ids={"66"})
    sandbox.seed_associations("contacts", "companies", [(1, 2)])
    client = make_client(sandbox, api_version=version)
    calls = {
        "associate": [client.associate("contacts", i, "companies", 7, DEFAULT) for i in (5, 66, 6)],
        "archive": [client.archive("contacts", i, "companies", 7) for i in (5, 66, 6)],
        "archive_labels": [
            client.archive_labels("contacts", i, "companies", 7, DEFAULT) for i in (5, 66, 6)
        ],
        "read": [client.get_associations("contacts", i, "companies") for i in (1, 66, 6)],
    }
    for name, coroutines in calls.items():
        answers = await asyncio.gather(*coroutines, return_exceptions=True)
        assert [isinstance(a, BatchItemError) for a in answers] == [False, True, False], name
        assert isinstance(answers[1], BatchItemError) and answers[1].status == 400


@pytest.mark.parametrize("version", VERSIONS)
async def test_close_sends_every_held_call_in_order(
    sandbox_factory: SandboxFactory, make_client: ClientFactory, version: str
) -> None:
    sandbox = await sandbox_factory(latency=0.02)
    client = make_client(sandbox, api_version=version)
    futures = [
        client.submit_default("contacts", 1, "companies", 2),
        client.submit_archive("contacts", 1, "companies", 2),
        client.submit_associate("contacts", 1, "companies", 2, DEFAULT),
        client.submit_get_associations("contacts", 1, "companies"),
    ]
    await client.aclose()
    assert all(f.done() for f in futures)
    assert [r.to_object_id for r in futures[3].result()] == ["2"]
    assert sandbox.associations("contacts", "companies", 1) == {"2": [("HUBSPOT_DEFINED", 279)]}


def test_archive_bodies_group_a_from_ids_pairs_into_one_input() -> None:
    from hubassoc._models import (
        ENCODER,
        BatchRequest,
        PublicAssociationMultiArchive,
        PublicObjectId,
    )
    from hubassoc._operations import ARCHIVE

    body = ARCHIVE.encode([("1", "10"), ("2", "20"), ("1", "11")])
    expected = BatchRequest(
        inputs=[
            PublicAssociationMultiArchive(
                from_=PublicObjectId(id="1"), to=[PublicObjectId(id="10"), PublicObjectId(id="11")]
            ),
            PublicAssociationMultiArchive(
                from_=PublicObjectId(id="2"), to=[PublicObjectId(id="20")]
            ),
        ]
    )
    assert body == ENCODER.encode(expected)


def test_labelled_and_read_bodies_escape_what_callers_and_servers_give() -> None:
    from hubassoc._operations import ASSOCIATE, READ

    odd = AssociationSpec(association_category='USER_"DEFINED', association_type_id=7)
    created = json.loads(ASSOCIATE.encode([("1", "2", (odd, DEFAULT))]))
    assert created["inputs"][0]["types"][0]["associationCategory"] == 'USER_"DEFINED'
    read = json.loads(READ.encode([("1", None), ("2", 'c"ursor')]))
    assert read == {"inputs": [{"id": "1"}, {"id": "2", "after": 'c"ursor'}]}


async def test_identical_calls_are_sent_once_and_each_caller_owns_its_answer(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    requests = Requests()
    client = make_client(on_event=requests)
    sandbox.seed_associations("contacts", "companies", [(1, 2)])
    first, second = await asyncio.gather(
        client.associate("contacts", 5, "companies", 6, DEFAULT),
        client.associate("contacts", "5", "companies", 6, [DEFAULT]),
    )
    assert first == second and first.labels is not second.labels
    one, other = await asyncio.gather(
        client.get_associations("contacts", 1, "companies"),
        client.get_associations("contacts", "1", "companies"),
    )
    assert one == other and one is not other
    assert requests.sizes == {"create": [1], "read": [1]}


async def test_a_labelled_create_answered_from_the_other_side_is_the_pairs_answer(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    from hubassoc.sandbox import Fault

    result = {
        "fromObjectTypeId": "0-2",
        "fromObjectId": 6,
        "toObjectTypeId": "0-1",
        "toObjectId": 5,
        "labels": [],
    }
    body = {
        "status": "COMPLETE",
        "results": [result],
        "startedAt": "2026-01-01T00:00:00Z",
        "completedAt": "2026-01-01T00:00:01Z",
    }
    sandbox.script([Fault(status=201, body=json.dumps(body).encode())])
    client = make_client()
    made = await client.associate("contacts", 5, "companies", 6, DEFAULT)
    assert (made.from_object_id, made.to_object_id) == ("6", "5")
