"""Wire models: names, leniency, timestamps, and decoding failures named by JSON path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from hubassoc import DecodingError, DefaultAssociation
from hubassoc._models import (
    ASSOCIATION_PAGE_DECODER,
    ASSOCIATION_READ_BATCH_DECODER,
    CONFIGURATION_COLLECTION_DECODER,
    DEFAULT_ASSOCIATION_BATCH_DECODER,
    ENCODER,
    ERROR_DECODER,
    HIGH_USAGE_REPORT_DECODER,
    LABEL_COLLECTION_DECODER,
    LABELS_BETWEEN_BATCH_DECODER,
    LABELS_BETWEEN_DECODER,
    VOID_BATCH_DECODER,
    AssociationSpec,
    AssociationSpecWithLabel,
    BatchAssociateDefaultRequest,
    BatchRequest,
    DefaultAssociationInput,
    HighUsageReport,
    LabelsBetweenObjectPair,
    MultiAssociatedObjectWithLabel,
    PublicAssociationDefinitionCreateRequest,
    PublicAssociationDefinitionUpdateRequest,
    PublicAssociationMultiArchive,
    PublicAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
    PublicObjectId,
    decode,
)
from hubassoc._operations import encode_pairs

GOOD = (
    b'{"status":"COMPLETE","startedAt":"2026-11-22T10:00:00.000Z",'
    b'"completedAt":"2026-11-22T10:00:00.120Z","results":[{"from":{"id":"1"},"to":{"id":"2"},'
    b'"associationSpec":{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":279}}]}'
)


def test_decodes_hubspot_names_into_snake_case() -> None:
    answer = decode(DEFAULT_ASSOCIATION_BATCH_DECODER, GOOD)
    (result,) = answer.results
    assert isinstance(result, DefaultAssociation)
    assert (result.from_.id, result.to.id) == ("1", "2")
    assert result.association_spec.association_type_id == 279
    assert answer.started_at == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert answer.errors == []


def test_unknown_fields_are_ignored_and_naive_timestamps_are_utc() -> None:
    body = (
        b'{"status":"SOMETHING_NEW","startedAt":"2026-11-22T10:00:00","completedAt":'
        b'"2026-11-22T10:00:01+02:00","newField":{"x":1},"results":[{"from":{"id":"1","x":2},'
        b'"to":{"id":"2"},"associationSpec":{"associationCategory":"HUBSPOT_DEFINED",'
        b'"associationTypeId":279,"label":null}}],"errors":[{"status":"error","category":'
        b'"OBJECT_NOT_FOUND","message":"nope","context":{"ids":["5"]},"subCategory":'
        b'{"code":"X"},"errors":[],"links":{},"extra":true}]}'
    )
    answer = decode(DEFAULT_ASSOCIATION_BATCH_DECODER, body)
    assert answer.status == "SOMETHING_NEW"
    assert answer.started_at.tzinfo is UTC
    assert answer.completed_at.utcoffset() is not None
    assert answer.errors[0].sub_category == {"code": "X"}
    assert answer.errors[0].context == {"ids": ["5"]}


def test_sub_category_as_string() -> None:
    error = ERROR_DECODER.decode(
        b'{"category":"VALIDATION_ERROR","message":"m","subCategory":"crm.x","correlationId":"c"}'
    )
    assert error.sub_category == "crm.x"
    assert error.correlation_id == "c"


@pytest.mark.parametrize(
    ("body", "path", "what"),
    [
        (GOOD.replace(b'"id":"2"', b'"id":2'), "$.results[0].to.id", "Expected `str`"),
        (GOOD.replace(b'"status":"COMPLETE",', b""), "$", "missing required field `status`"),
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "$", "an HTML page"),
        (b"", "$", "an empty body"),
        (b'{"results": 5}', "$.results", "Expected `array`, got `int`"),
        (b'{"status": "COMPL', "$", "not valid JSON"),
    ],
)
def test_mismatches_raise_decoding_error_with_the_path(body: bytes, path: str, what: str) -> None:
    with pytest.raises(DecodingError) as caught:
        decode(DEFAULT_ASSOCIATION_BATCH_DECODER, body, status=200)
    assert caught.value.path == path
    assert what in str(caught.value)
    assert caught.value.status == 200
    assert isinstance(caught.value.__cause__, msgspec.MsgspecError)


def test_the_hand_written_batch_body_matches_the_typed_model() -> None:
    pairs = [("1", "2"), ("30", "9223372036854775807")]
    typed = BatchAssociateDefaultRequest(
        inputs=[
            DefaultAssociationInput(from_=PublicObjectId(id=f), to=PublicObjectId(id=t))
            for f, t in pairs
        ]
    )
    assert encode_pairs(pairs) == ENCODER.encode(typed)
    assert msgspec.json.decode(encode_pairs([])) == {"inputs": []}


def test_configuration_collection() -> None:
    body = b'{"results":[{"category":"USER_DEFINED","typeId":3,"userEnforcedMaxToObjectIds":5}]}'
    (config,) = decode(CONFIGURATION_COLLECTION_DECODER, body).results
    assert (config.category, config.type_id, config.user_enforced_max_to_object_ids) == (
        "USER_DEFINED",
        3,
        5,
    )
    assert config.label is None


# --- labelled associations, reads, label definitions ----------------------------------

_ENVELOPE = (
    b'"status":"COMPLETE","startedAt":"2026-11-22T10:00:00Z","completedAt":"2026-11-22T10:00:01Z"'
)


def test_batch_create_answer_gives_labels_between_object_pairs() -> None:
    body = (
        b"{" + _ENVELOPE + b',"results":[{"fromObjectTypeId":"0-1","fromObjectId":"1",'
        b'"toObjectTypeId":"0-2","toObjectId":"2","labels":["Manager",""],"new":1}],'
        b'"numErrors":1,"errors":[{"status":"error","category":"OBJECT_NOT_FOUND",'
        b'"message":"m","context":{"fromObjectId":["9"]}}]}'
    )
    answer = decode(LABELS_BETWEEN_BATCH_DECODER, body)
    assert answer.results == [
        LabelsBetweenObjectPair(
            from_object_type_id="0-1",
            from_object_id="1",
            to_object_type_id="0-2",
            to_object_id="2",
            labels=["Manager", ""],
        )
    ]
    assert answer.errors[0].context == {"fromObjectId": ["9"]}


def test_labels_between_object_pair_ids_are_strings_even_when_sent_as_numbers() -> None:
    pair = decode(
        LABELS_BETWEEN_DECODER,
        b'{"fromObjectTypeId":"0-1","fromObjectId":9223372036854775807,'
        b'"toObjectTypeId":"0-2","toObjectId":12,"labels":[]}',
    )
    assert (pair.from_object_id, pair.to_object_id) == ("9223372036854775807", "12")
    assert pair.labels == []


def test_batch_read_answer_with_paging_and_int64_ids() -> None:
    body = (
        b"{" + _ENVELOPE + b',"results":[{"from":{"id":"1"},"to":[{"toObjectId":'
        b'9223372036854775807,"associationTypes":[{"category":"HUBSPOT_DEFINED","typeId":1,'
        b'"label":null},{"category":"USER_DEFINED","typeId":1000,"label":"Boss",'
        b'"fromObjectTypeId":"0-1"}]},{"toObjectId":"7","associationTypes":[]}],'
        b'"paging":{"next":{"after":"MTAw","link":"https://x"},"prev":{"before":"a"}}},'
        b'{"from":{"id":"2"},"to":[]}]}'
    )
    answer = decode(ASSOCIATION_READ_BATCH_DECODER, body)
    first, second = answer.results
    assert first.from_.id == "1"
    assert [record.to_object_id for record in first.to] == ["9223372036854775807", "7"]
    assert type(first.to[0].to_object_id) is str
    assert first.to[0].association_types == [
        AssociationSpecWithLabel(category="HUBSPOT_DEFINED", type_id=1),
        AssociationSpecWithLabel(category="USER_DEFINED", type_id=1000, label="Boss"),
    ]
    assert first.paging is not None and first.paging.next is not None
    assert (first.paging.next.after, first.paging.next.link) == ("MTAw", "https://x")
    assert second.to == [] and second.paging is None


def test_read_answer_without_associations_in_errors() -> None:
    body = (
        b"{" + _ENVELOPE + b',"results":[],"errors":[{"status":"error","category":'
        b'"OBJECT_NOT_FOUND","subCategory":"crm.associations.NO_ASSOCIATIONS_FOUND",'
        b'"message":"none","context":{"fromObjectId":["5"]}}]}'
    )
    answer = decode(ASSOCIATION_READ_BATCH_DECODER, body)
    assert answer.results == []
    assert answer.errors[0].sub_category == "crm.associations.NO_ASSOCIATIONS_FOUND"


def test_per_record_page_last_and_not_last() -> None:
    page = decode(
        ASSOCIATION_PAGE_DECODER,
        b'{"results":[{"toObjectId":5,"associationTypes":[{"category":"HUBSPOT_DEFINED",'
        b'"typeId":279}]}],"paging":{"next":{"after":"5"}}}',
    )
    assert page.results[0].to_object_id == "5"
    assert page.paging is not None and page.paging.next is not None
    assert page.paging.next.after == "5"
    last = decode(ASSOCIATION_PAGE_DECODER, b'{"results":[]}')
    assert last.paging is None
    assert decode(ASSOCIATION_PAGE_DECODER, b'{"results":[],"paging":{}}').paging.next is None  # type: ignore[union-attr]


def test_missing_to_object_id_is_named_by_path() -> None:
    with pytest.raises(DecodingError) as caught:
        decode(ASSOCIATION_PAGE_DECODER, b'{"results":[{"associationTypes":[]}]}')
    assert caught.value.path == "$.results[0]"
    with pytest.raises(DecodingError) as caught:
        decode(ASSOCIATION_PAGE_DECODER, b'{"results":[{"toObjectId":1.5,"associationTypes":[]}]}')
    assert caught.value.path == "$.results[0].toObjectId"


def test_multi_associated_object_built_by_hand_normalises_its_id() -> None:
    record = MultiAssociatedObjectWithLabel(to_object_id=42, association_types=[])  # type: ignore[arg-type]
    assert record.to_object_id == "42"
    assert record == MultiAssociatedObjectWithLabel(to_object_id="42", association_types=[])


def test_label_definitions_and_spec_property() -> None:
    answer = decode(
        LABEL_COLLECTION_DECODER,
        b'{"results":[{"category":"HUBSPOT_DEFINED","typeId":279},{"category":"USER_DEFINED",'
        b'"typeId":1001,"label":"Mentor","fromObjectTypeId":"0-1","toObjectTypeId":"0-2"}]}',
    )
    default, mentor = answer.results
    assert default.label is None and mentor.label == "Mentor"
    assert mentor.spec == AssociationSpec(
        association_category="USER_DEFINED", association_type_id=1001
    )


@pytest.mark.parametrize(
    ("enqueue_time", "expected"),
    [
        (
            b'{"value":1796281200000,"dateOnly":false,"timeZoneShift":0}',
            datetime(2026, 12, 3, 7, tzinfo=UTC),
        ),
        (
            b'{"value":1796281200000,"dateOnly":false,"timeZoneShift":60,"x":1}',
            datetime(2026, 12, 3, 8, tzinfo=timezone(timedelta(hours=1))),
        ),
        (b'"2026-12-03T07:00:00Z"', datetime(2026, 12, 3, 7, tzinfo=UTC)),
    ],
)
def test_high_usage_report_time_from_a_datetime_object_or_a_string(
    enqueue_time: bytes, expected: datetime
) -> None:
    report = decode(
        HIGH_USAGE_REPORT_DECODER,
        b'{"userId":12,"userEmail":"a@example.com","enqueueTime":' + enqueue_time + b"}",
    )
    assert report.enqueue_time == expected
    assert report.enqueue_time.utcoffset() == expected.utcoffset()


def test_high_usage_report_time_out_of_range_is_a_decoding_error() -> None:
    with pytest.raises(DecodingError, match="out of range"):
        decode(
            HIGH_USAGE_REPORT_DECODER,
            b'{"userId":1,"userEmail":"a","enqueueTime":{"value":1,"timeZoneShift":100000}}',
        )


def test_high_usage_report_time_is_aware() -> None:
    report = decode(
        HIGH_USAGE_REPORT_DECODER,
        b'{"userId":12,"userEmail":"a@example.com","enqueueTime":"2026-11-22T10:00:00","x":1}',
    )
    assert report == HighUsageReport(
        user_id=12, user_email="a@example.com", enqueue_time=datetime(2026, 11, 22, 10, tzinfo=UTC)
    )


def test_void_batch_answer_with_errors() -> None:
    answer = decode(
        VOID_BATCH_DECODER,
        b"{" + _ENVELOPE + b',"results":[],"errors":[{"status":"error","category":"X",'
        b'"message":"m","context":{"toObjectId":["3"]}}]}',
    )
    assert answer.errors[0].context == {"toObjectId": ["3"]}


def test_request_bodies_use_hubspot_names() -> None:
    spec = AssociationSpec(association_category="USER_DEFINED", association_type_id=1000)
    post = PublicAssociationMultiPost(
        from_=PublicObjectId(id="1"), to=PublicObjectId(id="2"), types=[spec]
    )
    assert msgspec.json.decode(ENCODER.encode(BatchRequest(inputs=[post]))) == {
        "inputs": [
            {
                "from": {"id": "1"},
                "to": {"id": "2"},
                "types": [{"associationCategory": "USER_DEFINED", "associationTypeId": 1000}],
            }
        ]
    }
    archive = PublicAssociationMultiArchive(
        from_=PublicObjectId(id="1"), to=[PublicObjectId(id="2"), PublicObjectId(id="3")]
    )
    assert ENCODER.encode(archive) == b'{"from":{"id":"1"},"to":[{"id":"2"},{"id":"3"}]}'
    assert ENCODER.encode(PublicFetchAssociationsBatchRequest(id="1")) == b'{"id":"1"}'
    assert (
        ENCODER.encode(PublicFetchAssociationsBatchRequest(id="1", after="MTAw"))
        == b'{"id":"1","after":"MTAw"}'
    )
    assert (
        ENCODER.encode(PublicAssociationDefinitionCreateRequest(label="Boss", name="boss"))
        == b'{"label":"Boss","name":"boss"}'
    )
    assert ENCODER.encode(
        PublicAssociationDefinitionUpdateRequest(
            association_type_id=1000, label="Boss", inverse_label="Report"
        )
    ) == (b'{"associationTypeId":1000,"label":"Boss","inverseLabel":"Report"}')
    assert ENCODER.encode([spec]) == (
        b'[{"associationCategory":"USER_DEFINED","associationTypeId":1000}]'
    )
