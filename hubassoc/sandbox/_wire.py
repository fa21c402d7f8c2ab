"""HubSpot's wire shapes, as the sandbox writes and reads them.

Bodies are built as plain dicts and encoded with one module-level msgspec
encoder. Request bodies are decoded into small msgspec Structs private to the
sandbox (deliberately not the client's models), so a malformed request gets a
400 whose message names the JSON path, as HubSpot's own validation does.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

__all__ = [
    "HTML_502",
    "ArchiveInput",
    "AssociationSpec",
    "BatchAssociateInput",
    "ConfigInput",
    "LabelCreate",
    "LabelUpdate",
    "ReadInput",
    "SpecInput",
    "TypedInput",
    "add_extra_fields",
    "decode_archive_inputs",
    "decode_batch_associate",
    "decode_config_inputs",
    "decode_label_create",
    "decode_label_update",
    "decode_read_inputs",
    "decode_spec_inputs",
    "decode_specs",
    "decode_typed_inputs",
    "encode",
    "error_body",
    "new_correlation_id",
    "rate_limit_body",
    "standard_error",
    "timestamp",
]

encode = msgspec.json.Encoder().encode

Category = Literal["HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED", "WORK"]


class _ObjectId(msgspec.Struct, frozen=True):
    id: str


class _AssociateInput(msgspec.Struct, frozen=True):
    from_: _ObjectId = msgspec.field(name="from")
    to: _ObjectId


class BatchAssociateInput(msgspec.Struct, frozen=True):
    """``BatchInputPublicDefaultAssociationMultiPost``."""

    inputs: list[_AssociateInput]


class ConfigInput(msgspec.Struct, frozen=True, rename="camel"):
    """``PublicAssociationDefinitionConfigurationCreateRequest`` (and the update request)."""

    category: Category
    type_id: int
    max_to_object_ids: int


class _ConfigBatch(msgspec.Struct, frozen=True):
    inputs: list[ConfigInput]


class SpecInput(msgspec.Struct, frozen=True, rename="camel"):
    """``PublicAssociationSpec`` as the purge call takes it."""

    category: str
    type_id: int


class _SpecBatch(msgspec.Struct, frozen=True):
    inputs: list[SpecInput]


class AssociationSpec(msgspec.Struct, frozen=True, rename="camel"):
    """``AssociationSpec``: one association type in a request."""

    association_category: Category
    association_type_id: int

    @property
    def key(self) -> tuple[str, int]:
        """``(category, typeId)`` as the store keeps types."""
        return self.association_category, self.association_type_id


class TypedInput(msgspec.Struct, frozen=True):
    """``PublicAssociationMultiPost``: a pair and its types (labelled create, labels archive)."""

    from_: _ObjectId = msgspec.field(name="from")
    to: _ObjectId
    types: list[AssociationSpec]


class _TypedBatch(msgspec.Struct, frozen=True):
    inputs: list[TypedInput]


class ArchiveInput(msgspec.Struct, frozen=True):
    """``PublicAssociationMultiArchive``: one record and the records to dissociate from it."""

    from_: _ObjectId = msgspec.field(name="from")
    to: list[_ObjectId]


class _ArchiveBatch(msgspec.Struct, frozen=True):
    inputs: list[ArchiveInput]


class ReadInput(msgspec.Struct, frozen=True):
    """``PublicFetchAssociationsBatchRequest``: a record to read, and the page cursor."""

    id: str
    after: str | None = None


class _ReadBatch(msgspec.Struct, frozen=True):
    inputs: list[ReadInput]


class LabelCreate(msgspec.Struct, frozen=True, rename="camel"):
    """``PublicAssociationDefinitionCreateRequest``."""

    label: str
    name: str
    inverse_label: str | None = None


class LabelUpdate(msgspec.Struct, frozen=True, rename="camel"):
    """``PublicAssociationDefinitionUpdateRequest``."""

    association_type_id: int
    label: str
    inverse_label: str | None = None


_batch_decoder = msgspec.json.Decoder(BatchAssociateInput)
_typed_decoder = msgspec.json.Decoder(_TypedBatch)
_archive_decoder = msgspec.json.Decoder(_ArchiveBatch)
_read_decoder = msgspec.json.Decoder(_ReadBatch)
_specs_decoder = msgspec.json.Decoder(list[AssociationSpec])
_label_create_decoder = msgspec.json.Decoder(LabelCreate)
_label_update_decoder = msgspec.json.Decoder(LabelUpdate)
_config_decoder = msgspec.json.Decoder(_ConfigBatch)
_spec_decoder = msgspec.json.Decoder(_SpecBatch)


def decode_batch_associate(body: bytes) -> BatchAssociateInput:
    """Decode a batch associate body; raises `msgspec.DecodeError` (incl. ValidationError)."""
    return _batch_decoder.decode(body)


def decode_typed_inputs(body: bytes) -> list[TypedInput]:
    """Decode a batch create or labels archive body; raises `msgspec.DecodeError`."""
    return _typed_decoder.decode(body).inputs


def decode_archive_inputs(body: bytes) -> list[ArchiveInput]:
    """Decode a batch archive body; raises `msgspec.DecodeError`."""
    return _archive_decoder.decode(body).inputs


def decode_read_inputs(body: bytes) -> list[ReadInput]:
    """Decode a batch read body; raises `msgspec.DecodeError`."""
    return _read_decoder.decode(body).inputs


def decode_specs(body: bytes) -> list[AssociationSpec]:
    """Decode the labelled PUT's body (a list of types); raises `msgspec.DecodeError`."""
    return _specs_decoder.decode(body)


def decode_label_create(body: bytes) -> LabelCreate:
    """Decode a label create body; raises `msgspec.DecodeError`."""
    return _label_create_decoder.decode(body)


def decode_label_update(body: bytes) -> LabelUpdate:
    """Decode a label update body; raises `msgspec.DecodeError`."""
    return _label_update_decoder.decode(body)


def decode_config_inputs(body: bytes) -> list[ConfigInput]:
    """Decode a configurations create/update body; raises `msgspec.DecodeError`."""
    return _config_decoder.decode(body).inputs


def decode_spec_inputs(body: bytes) -> list[SpecInput]:
    """Decode a configurations purge body; raises `msgspec.DecodeError`."""
    return _spec_decoder.decode(body).inputs


def new_correlation_id() -> str:
    """A fresh correlation id, as HubSpot sends in ``X-HubSpot-Correlation-Id``."""
    return str(uuid.uuid4())


def timestamp() -> str:
    """The current UTC time as ISO-8601 with milliseconds and a ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sub_category(value: str, as_object: bool) -> str | dict[str, str]:
    return {"name": value} if as_object else value


def error_body(
    correlation_id: str,
    category: str,
    message: str,
    *,
    sub_category: str | None = None,
    context: dict[str, list[str]] | None = None,
    errors: list[dict[str, Any]] | None = None,
    subcategory_object: bool = False,
) -> dict[str, Any]:
    """HubSpot's ``Error`` shape (whole-call failures: 400, 401, 404, 5xx)."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id,
        "category": category,
    }
    if sub_category is not None:
        body["subCategory"] = _sub_category(sub_category, subcategory_object)
    if context is not None:
        body["context"] = context
    if errors is not None:
        body["errors"] = errors
    return body


def standard_error(
    category: str,
    message: str,
    context: dict[str, list[str]],
    *,
    sub_category: str | None = None,
    subcategory_object: bool = False,
) -> dict[str, Any]:
    """HubSpot's ``StandardError`` shape (one per-input error inside a batch answer)."""
    error: dict[str, Any] = {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": [],
        "links": {},
    }
    if sub_category is not None:
        error["subCategory"] = _sub_category(sub_category, subcategory_object)
    return error


def rate_limit_body(correlation_id: str, policy: str) -> dict[str, Any]:
    """The 429 body HubSpot sends (not in the specs; shape from docs/hubspot.md)."""
    what = "daily" if policy == "DAILY" else policy.lower()
    return {
        "status": "error",
        "message": f"You have reached your {what} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id,
        "policyName": policy,
        "requestId": str(uuid.uuid4()),
    }


HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
"""The HTML page a gateway answers with when HubSpot's backend is unreachable."""

# Maps of string -> list of strings or string -> string in the specs: adding an
# object there would break their schema, so extra fields stay out of them.
_OPAQUE_MAPS = frozenset({"context", "links", "sandboxTrace"})


def add_extra_fields(value: Any, trace: dict[str, Any]) -> Any:
    """Add an unknown ``sandboxTrace`` field to every object in `value` (in place).

    Safe on dicts shared between several places (it is set, not nested).
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in _OPAQUE_MAPS:
                add_extra_fields(item, trace)
        value["sandboxTrace"] = trace
    elif isinstance(value, list):
        for item in value:
            add_extra_fields(item, trace)
    return value
