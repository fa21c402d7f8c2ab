"""Wire models: names, leniency, timestamps, and decoding failures named by JSON path."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from hubassoc import DecodingError, DefaultAssociation
from hubassoc._models import (
    CONFIGURATION_COLLECTION_DECODER,
    DEFAULT_ASSOCIATION_BATCH_DECODER,
    ENCODER,
    ERROR_DECODER,
    BatchAssociateDefaultRequest,
    DefaultAssociationInput,
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
