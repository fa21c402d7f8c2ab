"""CRM object types and record ids as the sandbox understands them.

HubSpot takes an object type in a path as a standard object's name
(``contacts`` or ``contact``), an objectTypeId (``0-1``, or ``2-1234567`` for a
custom object) or a fully qualified custom object name (``p7878787_widget``),
and refuses anything else with a 400 "Unable to infer object type from:
companys". The sandbox does the same (ignoring letter case), so a typo in a
type fails here as it would against HubSpot. It maps standard names onto their
objectTypeIds so ``contacts`` and ``0-1`` share one store.

Standard objects known by name, each also in the singular (`STANDARD_OBJECTS`,
after HubSpot's table of object type ids): contacts, companies, deals,
tickets, products, line_items, quotes, communications, feedback_submissions,
tasks, notes, meetings, calls, emails, invoices, marketing_events,
subscriptions, goal_targets (goals), discounts, fees, taxes, commerce_payments
(payments), users, postal_mail, orders, leads, carts, services, courses,
listings, appointments, projects.
"""

from __future__ import annotations

import functools
import hashlib
import re

__all__ = [
    "MAX_RECORD_ID",
    "STANDARD_OBJECTS",
    "canonical_ids",
    "canonical_type",
    "default_type_id",
    "parse_record_id",
    "type_label",
]

MAX_RECORD_ID = 2**63 - 1
"""Record ids are int64 values written as decimal strings."""

STANDARD_OBJECTS: dict[str, tuple[str, ...]] = {
    "0-1": ("contact", "contacts"),
    "0-2": ("company", "companies"),
    "0-3": ("deal", "deals"),
    "0-5": ("ticket", "tickets"),
    "0-7": ("product", "products"),
    "0-8": ("line_item", "line_items"),
    "0-14": ("quote", "quotes"),
    "0-18": ("communication", "communications"),
    "0-19": ("feedback_submission", "feedback_submissions"),
    "0-27": ("task", "tasks"),
    "0-46": ("note", "notes"),
    "0-47": ("meeting", "meetings"),
    "0-48": ("call", "calls"),
    "0-49": ("email", "emails"),
    "0-53": ("invoice", "invoices"),
    "0-54": ("marketing_event", "marketing_events"),
    "0-69": ("subscription", "subscriptions"),
    "0-74": ("goal_target", "goal_targets", "goal", "goals"),
    "0-84": ("discount", "discounts"),
    "0-85": ("fee", "fees"),
    "0-86": ("tax", "taxes"),
    "0-101": ("commerce_payment", "commerce_payments", "payment", "payments"),
    "0-115": ("user", "users"),
    "0-116": ("postal_mail",),
    "0-123": ("order", "orders"),
    "0-136": ("lead", "leads"),
    "0-142": ("cart", "carts"),
    "0-162": ("service", "services"),
    "0-410": ("course", "courses"),
    "0-420": ("listing", "listings"),
    "0-421": ("appointment", "appointments"),
    "0-970": ("project", "projects"),
}
"""objectTypeId -> the names HubSpot knows the standard object by (singular first)."""

_BY_NAME = {name: type_id for type_id, names in STANDARD_OBJECTS.items() for name in names}

# objectTypeIds: 0-N for standard objects, 2-N for custom ones (any N, as HubSpot
# adds objects over time).
_TYPE_ID = re.compile(r"[0-9]{1,4}-[0-9]{1,12}")
# Fully qualified custom object names: p<portal id>_<name>.
_CUSTOM_NAME = re.compile(r"p[0-9]{1,19}_[a-z0-9_]{1,100}")

# HUBSPOT_DEFINED (unlabelled) association type ids, per docs/hubspot.md.
_DEFAULT_TYPE_IDS: dict[tuple[str, str], int] = {
    ("0-1", "0-2"): 279,
    ("0-2", "0-1"): 280,
    ("0-1", "0-3"): 4,
    ("0-3", "0-1"): 3,
    ("0-1", "0-5"): 15,
    ("0-5", "0-1"): 16,
    ("0-2", "0-3"): 342,
    ("0-3", "0-2"): 341,
    ("0-2", "0-5"): 340,
    ("0-5", "0-2"): 339,
    ("0-3", "0-5"): 27,
    ("0-5", "0-3"): 28,
}


@functools.lru_cache(maxsize=4096)
def canonical_type(raw: str) -> str | None:
    """The store key of an object type as written in a path, or ``None`` if HubSpot refuses it.

    Standard names map to their objectTypeId (``contacts`` -> ``0-1``);
    objectTypeIds and custom object names are kept, lower-cased. Any other
    name (``companys``) is ``None``.
    """
    lowered = raw.lower()
    known = _BY_NAME.get(lowered)
    if known is not None:
        return known
    if _TYPE_ID.fullmatch(lowered) or _CUSTOM_NAME.fullmatch(lowered):
        return lowered
    return None


def type_label(canonical: str) -> str:
    """A readable singular name for messages (``0-1`` -> ``contact``)."""
    names = STANDARD_OBJECTS.get(canonical)
    return names[0] if names else canonical


@functools.lru_cache(maxsize=4096)
def default_type_id(from_type: str, to_type: str) -> int:
    """The HUBSPOT_DEFINED association type id between two canonical types.

    Pairs HubSpot documents come from its table; any other pair gets a stable
    positive int32 derived from the two names, above the range HubSpot uses
    for its own types.
    """
    known = _DEFAULT_TYPE_IDS.get((from_type, to_type))
    if known is not None:
        return known
    digest = hashlib.blake2b(f"{from_type}->{to_type}".encode(), digest_size=4).digest()
    return 100_000 + int.from_bytes(digest, "big") % 2_000_000_000


def parse_record_id(text: str) -> int | None:
    """The int64 value of a decimal record id string, or ``None`` if it is not one."""
    if not (0 < len(text) <= 19 and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_RECORD_ID else None


# A comma-joined list of canonical ids: no sign, no leading zeros, at most 19 digits.
_CANONICAL_IDS = re.compile(r"(?:0|[1-9][0-9]{0,18})(?:,(?:0|[1-9][0-9]{0,18}))*")


def canonical_ids(texts: list[str]) -> list[str] | int:
    """The ids as canonical decimal strings, or the index of the first one that is no id.

    Canonical ids (the usual case) are checked with one regex over the joined
    list and returned as is; others (leading zeros) are rewritten via `int`.
    """
    if not texts:
        return texts
    joined = ",".join(texts)
    # The comma count guards against an "id" that is itself "1,2".
    if (
        joined.count(",") == len(texts) - 1
        and _CANONICAL_IDS.fullmatch(joined)
        and (
            # Only 19-digit ids can exceed int64.
            max(map(len, texts)) < 19 or all(int(t) <= MAX_RECORD_ID for t in texts)
        )
    ):
        return texts
    out: list[str] = []
    for index, text in enumerate(texts):
        value = parse_record_id(text)
        if value is None:
            return index
        out.append(str(value))
    return out
