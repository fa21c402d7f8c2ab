"""The backfill runner's decisions on their own: which failures are about the request."""

from __future__ import annotations

from hubassoc import (
    AuthenticationError,
    BatchItemError,
    DailyLimitError,
    HubSpotError,
    InvalidRequestError,
    Pair,
)
from hubassoc.backfill._runner import _whole_failure

PAIRS: list[Pair] = [("1", "2"), ("3", "4")]


def _request_400() -> InvalidRequestError:
    return InvalidRequestError("the request is invalid", status=400, category="VALIDATION_ERROR")


def test_a_whole_request_400_narrowed_to_every_pair_is_a_whole_failure() -> None:
    request = _request_400()
    errors: dict[Pair, HubSpotError] = {
        pair: BatchItemError(request.message, input=pair, status=400, request_error=request)
        for pair in PAIRS
    }
    assert _whole_failure({}, errors) is errors[PAIRS[0]]


def test_per_pair_errors_are_not_a_whole_failure_whatever_their_cause() -> None:
    # HubSpot named each input itself: not about the request, even if an error
    # happens to be chained to another one.
    errors: dict[Pair, HubSpotError] = {}
    for pair in PAIRS:
        item = BatchItemError("not found", input=pair, status=200, category="OBJECT_NOT_FOUND")
        item.__cause__ = _request_400()
        errors[pair] = item
    assert _whole_failure({}, errors) is None


def test_whole_call_errors_count_but_stopping_errors_and_successes_do_not() -> None:
    server = HubSpotError("503 after retries", status=503)
    assert _whole_failure({}, dict.fromkeys(PAIRS, server)) is server
    assert _whole_failure({PAIRS[0]: object()}, {PAIRS[1]: server}) is None
    assert _whole_failure({}, {}) is None
    daily = DailyLimitError("daily limit", status=429)
    assert _whole_failure({}, {PAIRS[0]: server, PAIRS[1]: daily}) is None
    refused = AuthenticationError("refused", status=401)
    assert _whole_failure({}, {PAIRS[0]: refused, PAIRS[1]: server}) is None
    request = _request_400()
    mixed: dict[Pair, HubSpotError] = {
        PAIRS[0]: BatchItemError("bad", input=PAIRS[0], request_error=request),
        PAIRS[1]: BatchItemError("not found", input=PAIRS[1], category="OBJECT_NOT_FOUND"),
    }
    assert _whole_failure({}, mixed) is None
