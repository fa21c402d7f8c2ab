"""The errors the association endpoints answer about their inputs.

Whole-call 400s for an id that is no record id and for the poison rule, the
404 of a single-record call on a record the not-found rule names, and the
per-input ``StandardError`` list of a batch (in the configured `ErrorStyle`).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from ._call import Call
from ._config import SandboxConfig
from ._responses import error_response, validation_error
from ._types import type_label
from ._wire import standard_error

__all__ = [
    "NOT_FOUND_SUB",
    "bad_id",
    "not_found_errors",
    "poisoned",
    "record_not_found",
]

NOT_FOUND_SUB: Final = "crm.associations.OBJECT_NOT_FOUND"
_POISON_MESSAGE: Final = "Invalid input: the request could not be processed"


def bad_id(config: SandboxConfig, call: Call, text: str, where: str) -> web.Response:
    """The 400 for a value at `where` that is no record id."""
    return validation_error(
        config,
        call,
        f"Invalid input: {where} must be a record id (a decimal int64 string), got {text!r}",
        where,
    )


def poisoned(config: SandboxConfig, call: Call) -> web.Response:
    """The poison rule's whole-call 400, naming no input (counted)."""
    call.generation.counts.batches_poisoned += 1
    return error_response(config, call, 400, "VALIDATION_ERROR", _POISON_MESSAGE)


def record_not_found(
    config: SandboxConfig, call: Call, side: str, object_type: str, text: str
) -> web.Response:
    """The 404 of a single-record call whose record (`side` of the path) does not exist."""
    return error_response(
        config,
        call,
        404,
        "OBJECT_NOT_FOUND",
        f"No {type_label(object_type)} with ID {text} exists.",
        sub_category=NOT_FOUND_SUB,
        context={side: [text]},
    )


def not_found_errors(
    config: SandboxConfig,
    from_type: str,
    to_type: str,
    failed: list[tuple[str | None, str | None]],
) -> list[dict[str, Any]]:
    """Per-input errors for inputs whose from record, to record or both do not exist.

    `failed` holds ``(missing from id or None, missing to id or None)`` per
    failed input; the errors name them as ``config.error_style`` says.
    """

    def error(message: str, context: dict[str, list[str]]) -> dict[str, Any]:
        return standard_error(
            "OBJECT_NOT_FOUND",
            message,
            context,
            sub_category=NOT_FOUND_SUB,
            subcategory_object=config.subcategory_object,
        )

    style = config.error_style
    if style == "none":
        return [error("One or more inputs refer to records that do not exist.", {})]
    missing_from = list(dict.fromkeys(f for f, _ in failed if f is not None))
    missing_to = list(dict.fromkeys(t for _, t in failed if t is not None))
    if style == "ids":
        ids = list(dict.fromkeys(missing_from + missing_to))
        return [error(f"{len(ids)} object(s) could not be found.", {"ids": ids})]
    errors = [
        error(f"No {type_label(from_type)} with ID {i} exists.", {"fromObjectId": [i]})
        for i in missing_from
    ]
    errors += [
        error(f"No {type_label(to_type)} with ID {i} exists.", {"toObjectId": [i]})
        for i in missing_to
    ]
    return errors
