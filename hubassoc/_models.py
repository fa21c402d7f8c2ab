"""Typed wire models for the association calls in scope, as msgspec Structs.

Wire names are HubSpot's (``from``, ``associationSpec``, ``typeId``); Python
names are snake_case. Decoding ignores unknown fields (HubSpot adds fields
over time), treats every error field as optional (HubSpot says to), accepts
``subCategory`` as a string or an object, and turns timestamps into aware
datetimes (a timestamp sent without an offset is taken as UTC).

Decoders are built once, here, and shared. :func:`decode` wraps msgspec's
errors into :class:`~hubassoc.DecodingError`, keeping msgspec's JSON path.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar

import msgspec
from msgspec import Meta, field
from msgspec.structs import force_setattr

from hubassoc._errors import DecodingError

__all__ = [
    "AssociationCategory",
    "AssociationLimitConfiguration",
    "AssociationSpec",
    "AssociationSpecKey",
    "AssociationSpecWithLabel",
    "BatchResponse",
    "ConfigurationInput",
    "ConfigurationUpdateResult",
    "DefaultAssociation",
    "DefaultAssociationInput",
    "Error",
    "ErrorDetail",
    "HighUsageReport",
    "LabelsBetweenObjectPair",
    "MultiAssociatedObjectWithLabel",
    "PublicObjectId",
    "RateLimitErrorBody",
    "StandardError",
]

T = TypeVar("T")

#: The association categories HubSpot knows (a ``str`` on the wire).
AssociationCategory = Literal["HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED", "WORK"]

#: ``subCategory``: the spec says object, HubSpot sends a string; take both.
SubCategory = str | dict[str, Any] | None

_Int32 = Annotated[int, Meta(ge=-(2**31), le=2**31 - 1)]
_NonNegativeInt32 = Annotated[int, Meta(ge=0, le=2**31 - 1)]


class _Wire(
    msgspec.Struct,
    rename="camel",
    kw_only=True,
    frozen=True,
    omit_defaults=True,
    gc=False,
):
    """Base of every wire model: camelCase on the wire, immutable, keyword-only.

    ``gc=False``: decoded JSON cannot form reference cycles, and a batch answer
    is hundreds of small objects; keeping them out of the cycle collector's
    sight saves it the work of scanning them.
    """


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# --- default associations -------------------------------------------------------------


class PublicObjectId(_Wire, frozen=True):
    """A record id as HubSpot nests it: ``{"id": "123"}``."""

    id: str


class DefaultAssociationInput(_Wire, frozen=True):
    """One input of ``batch/associate/default``: associate ``from_`` with ``to``."""

    from_: PublicObjectId = field(name="from")
    to: PublicObjectId


class BatchAssociateDefaultRequest(_Wire, frozen=True):
    """The body of ``batch/associate/default``."""

    inputs: list[DefaultAssociationInput]


class AssociationSpec(_Wire, frozen=True):
    """Which association was made: its category and type id (279 is contact to company)."""

    association_category: str
    association_type_id: int


class DefaultAssociation(_Wire, frozen=True):
    """One result of a default associate call."""

    from_: PublicObjectId = field(name="from")
    to: PublicObjectId
    association_spec: AssociationSpec


# --- errors ---------------------------------------------------------------------------


class ErrorDetail(_Wire, frozen=True):
    """One detail inside an error (HubSpot's ``ErrorDetail``)."""

    message: str = ""
    code: str | None = None
    in_: str | None = field(name="in", default=None)
    sub_category: SubCategory = None
    context: dict[str, list[str]] = {}


class StandardError(_Wire, frozen=True):
    """A per-input error inside a batch answer (HubSpot's ``StandardError``).

    ``status`` is a string on the wire (HubSpot's own typing); every field is
    optional because HubSpot says to treat them so.
    """

    status: str = ""
    category: str = ""
    message: str = ""
    id: str | None = None
    sub_category: SubCategory = None
    context: dict[str, list[str]] = {}
    errors: list[ErrorDetail] = []
    links: dict[str, str] = {}


class Error(_Wire, frozen=True):
    """A whole-call error body (HubSpot's ``Error``)."""

    category: str = ""
    correlation_id: str | None = None
    message: str = ""
    status: str | None = None
    sub_category: SubCategory = None
    context: dict[str, list[str]] = {}
    errors: list[ErrorDetail] = []
    links: dict[str, str] = {}


class RateLimitErrorBody(_Wire, frozen=True):
    """The body of a 429: ``policyName`` tells a rolling-window limit from the daily one."""

    status: str = ""
    message: str = ""
    error_type: str | None = None
    correlation_id: str | None = None
    policy_name: str | None = None
    request_id: str | None = None


# --- batch envelopes ------------------------------------------------------------------


class BatchResponse(_Wire, Generic[T], frozen=True):
    """A batch answer: ``results`` of type ``T`` plus per-input ``errors``.

    Errors can arrive inside a 200; ``status`` is kept as a string because
    HubSpot may add values to its enum.
    """

    status: str
    results: list[T]
    started_at: datetime
    completed_at: datetime
    requested_at: datetime | None = None
    links: dict[str, str] = {}
    num_errors: int | None = None
    errors: list[StandardError] = []

    def __post_init__(self) -> None:
        # Aware datetimes always: a timestamp sent without an offset is UTC.
        for name in ("started_at", "completed_at", "requested_at"):
            value = getattr(self, name)
            aware = _aware(value)
            if aware is not value:
                force_setattr(self, name, aware)


class CollectionResponse(_Wire, Generic[T], frozen=True):
    """A plain collection answer: ``{"results": [...]}``."""

    results: list[T]


# --- limit configurations -------------------------------------------------------------


class ConfigurationInput(_Wire, frozen=True):
    """One input of a configuration batch create or update: a limit for one type."""

    category: str
    type_id: _NonNegativeInt32
    max_to_object_ids: Annotated[int, Meta(ge=1, le=2**31 - 1)]


class AssociationSpecKey(_Wire, frozen=True):
    """An association type, named by category and type id (the input of a purge)."""

    category: str
    type_id: _NonNegativeInt32


class AssociationLimitConfiguration(_Wire, frozen=True):
    """A limit configuration as HubSpot lists it."""

    category: str
    type_id: _Int32
    user_enforced_max_to_object_ids: int | None = None
    label: str | None = None


class ConfigurationUpdateResult(_Wire, frozen=True):
    """One result of a configuration batch update."""

    category: str
    type_id: _Int32
    user_enforced_max_to_object_ids: int | None = None


class BatchRequest(_Wire, Generic[T], frozen=True):
    """A batch request body: ``{"inputs": [...]}``."""

    inputs: list[T]


# --- labelled associations, reads and label definitions ----------------------------


def _decimal(value: int | str) -> str:
    """A record id as hubassoc spells it everywhere: a decimal string.

    HubSpot's specs say ``toObjectId`` is a string; HubSpot sends an int64
    number in places (the v4 read and create answers). Both come out as ``str``.
    """
    return value if type(value) is str else str(value)


class AssociationSpecWithLabel(_Wire, frozen=True):
    """One association type as HubSpot reports it: in reads and label definitions.

    ``label`` is ``None`` for an unlabelled type (the default one, say).
    :attr:`spec` gives the :class:`AssociationSpec` to pass back as input.
    """

    category: str
    type_id: int
    label: str | None = None

    @property
    def spec(self) -> AssociationSpec:
        """This type as an input: ``AssociationSpec(category, type_id)``."""
        return AssociationSpec(association_category=self.category, association_type_id=self.type_id)


class MultiAssociatedObjectWithLabel(_Wire, frozen=True):
    """One associated record in a read: its id and every type between the two records."""

    # The wire gives an int64 number or a string; the field is always a str
    # once decoded. Declared ``str`` to type checkers, ``int | str`` to msgspec.
    if TYPE_CHECKING:
        to_object_id: str
    else:
        to_object_id: int | str
    association_types: list[AssociationSpecWithLabel]

    def __post_init__(self) -> None:
        value = self.to_object_id
        if type(value) is not str:
            force_setattr(self, "to_object_id", _decimal(value))


class LabelsBetweenObjectPair(_Wire, frozen=True):
    """The result of a labelled create (batch or ``PUT``): the pair and its labels.

    Object type ids are HubSpot's (``"0-1"``); record ids are decimal strings.
    """

    from_object_type_id: str
    if TYPE_CHECKING:
        from_object_id: str
    else:
        from_object_id: int | str
    to_object_type_id: str
    if TYPE_CHECKING:
        to_object_id: str
    else:
        to_object_id: int | str
    labels: list[str] = []

    def __post_init__(self) -> None:
        for name in ("from_object_id", "to_object_id"):
            value = getattr(self, name)
            if type(value) is not str:
                force_setattr(self, name, _decimal(value))


class DateTime(_Wire, frozen=True):
    """HubSpot's ``DateTime`` object: epoch milliseconds and a shift in minutes from UTC."""

    value: int
    date_only: bool = False
    time_zone_shift: int = 0

    def as_datetime(self) -> datetime:
        """The instant as an aware ``datetime``, in the zone of ``time_zone_shift``.

        Raises:
            ValueError: the instant or the shift is out of ``datetime``'s range.
        """
        try:
            shift = self.time_zone_shift
            zone = timezone(timedelta(minutes=shift)) if shift else UTC
            return datetime.fromtimestamp(self.value / 1000, zone)
        except (ValueError, OverflowError, OSError) as exc:
            raise ValueError(
                f"DateTime {self.value!r} shifted {self.time_zone_shift!r} min is out of range"
            ) from exc


class HighUsageReport(_Wire, frozen=True):
    """HubSpot's acknowledgement of a high-usage report request (emailed to the user).

    ``enqueue_time`` is an aware ``datetime`` whether HubSpot sends a
    ``DateTime`` object (as its specs say) or an RFC 3339 string.
    """

    user_id: int
    user_email: str
    if TYPE_CHECKING:
        enqueue_time: datetime
    else:
        enqueue_time: datetime | DateTime

    def __post_init__(self) -> None:
        value: datetime | DateTime = self.enqueue_time
        aware = value.as_datetime() if isinstance(value, DateTime) else _aware(value)
        if aware is not value:
            force_setattr(self, "enqueue_time", aware)


class NextPage(_Wire, frozen=True):
    """Where the next page starts: ask again with ``after``."""

    after: str
    link: str | None = None


class Paging(_Wire, frozen=True):
    """A page's paging block; no ``next`` means it was the last page."""

    next: NextPage | None = None


class PublicAssociationMultiWithLabel(_Wire, frozen=True):
    """One input's answer in ``batch/read``: a page of its associated records."""

    from_: PublicObjectId = field(name="from")
    to: list[MultiAssociatedObjectWithLabel]
    paging: Paging | None = None


class AssociationPage(_Wire, frozen=True):
    """One page of a record's associations, from the per-record ``GET``."""

    results: list[MultiAssociatedObjectWithLabel]
    paging: Paging | None = None


class PublicAssociationMultiPost(_Wire, frozen=True):
    """One input of ``batch/create`` and ``batch/labels/archive``: a pair and its types."""

    from_: PublicObjectId = field(name="from")
    to: PublicObjectId
    types: list[AssociationSpec]


class PublicAssociationMultiArchive(_Wire, frozen=True):
    """One input of ``batch/archive``: a record and the records to dissociate it from."""

    from_: PublicObjectId = field(name="from")
    to: list[PublicObjectId]


class PublicFetchAssociationsBatchRequest(_Wire, frozen=True):
    """One input of ``batch/read``: a record id and, past the first page, its cursor."""

    id: str
    after: str | None = None


class PublicAssociationDefinitionCreateRequest(_Wire, frozen=True):
    """The body of a label definition create."""

    label: str
    name: str
    inverse_label: str | None = None


class PublicAssociationDefinitionUpdateRequest(_Wire, frozen=True):
    """The body of a label definition update."""

    association_type_id: int
    label: str
    inverse_label: str | None = None


# --- decoding -------------------------------------------------------------------------

DefaultAssociationBatch = BatchResponse[DefaultAssociation]
ConfigurationBatch = BatchResponse[AssociationLimitConfiguration]
ConfigurationUpdateBatch = BatchResponse[ConfigurationUpdateResult]
PurgeBatch = BatchResponse[Any]
ConfigurationCollection = CollectionResponse[AssociationLimitConfiguration]
LabelsBetweenObjectPairBatch = BatchResponse[LabelsBetweenObjectPair]
AssociationReadBatch = BatchResponse[PublicAssociationMultiWithLabel]
LabelCollection = CollectionResponse[AssociationSpecWithLabel]

# Built once and shared: building a decoder compiles its type.
DEFAULT_ASSOCIATION_BATCH_DECODER = msgspec.json.Decoder(DefaultAssociationBatch)
CONFIGURATION_BATCH_DECODER = msgspec.json.Decoder(ConfigurationBatch)
CONFIGURATION_UPDATE_BATCH_DECODER = msgspec.json.Decoder(ConfigurationUpdateBatch)
PURGE_BATCH_DECODER = msgspec.json.Decoder(PurgeBatch)
CONFIGURATION_COLLECTION_DECODER = msgspec.json.Decoder(ConfigurationCollection)
LABELS_BETWEEN_BATCH_DECODER = msgspec.json.Decoder(LabelsBetweenObjectPairBatch)
LABELS_BETWEEN_DECODER = msgspec.json.Decoder(LabelsBetweenObjectPair)
ASSOCIATION_READ_BATCH_DECODER = msgspec.json.Decoder(AssociationReadBatch)
ASSOCIATION_PAGE_DECODER = msgspec.json.Decoder(AssociationPage)
LABEL_COLLECTION_DECODER = msgspec.json.Decoder(LabelCollection)
HIGH_USAGE_REPORT_DECODER = msgspec.json.Decoder(HighUsageReport)
#: Answers whose results carry nothing (archives on date versions): only errors count.
VOID_BATCH_DECODER = PURGE_BATCH_DECODER
ERROR_DECODER = msgspec.json.Decoder(Error)
RATE_LIMIT_DECODER = msgspec.json.Decoder(RateLimitErrorBody)

ENCODER = msgspec.json.Encoder()

_PATH_IN_MESSAGE = re.compile(r"at `(\$[^`]*)`")


def decode(decoder: msgspec.json.Decoder[T], body: bytes, *, status: int | None = None) -> T:
    """Decode ``body`` with ``decoder``.

    Raises:
        DecodingError: the body is not JSON or does not match the model; the
            message and :attr:`~DecodingError.path` name the JSON path.
    """
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH_IN_MESSAGE.search(text)
        raise DecodingError(
            f"response does not match the expected model: {text}",
            path=match.group(1) if match else "$",
            status=status,
        ) from exc
    except msgspec.DecodeError as exc:
        raise DecodingError(
            f"response is not valid JSON: {_describe_body(body)} ({exc})",
            path="$",
            status=status,
        ) from exc


def _describe_body(body: bytes) -> str:
    """Name what came instead of JSON (an HTML error page, say) without dumping it."""
    head = body[:64].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if not body:
        return "an empty body"
    return f"{len(body)} bytes that are not JSON"
