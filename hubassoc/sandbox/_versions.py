"""The API versions the sandbox serves and how each one answers.

A path names ``v4`` (the legacy paths, which carry no ``{version}``) or a date
version. Date versions before ``2026-09`` answer as ``2026-03`` does, and
``2026-09`` and later as ``2026-09`` does: ``v4`` and ``2026-03`` answer a
partial success with 207, ``2026-09`` with 200 and the errors in the body
(docs/hubspot.md, "The other association operations").
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from aiohttp import web

__all__ = ["Profile", "request_profile", "version_profile", "write_status"]

Profile: TypeAlias = Literal["v4", "2026-03", "2026-09"]
"""How a version answers."""


def version_profile(version: str) -> Profile:
    """``v4``, ``2026-03`` (any date version before 2026-09) or ``2026-09`` (and later)."""
    if version == "v4":
        return "v4"
    return "2026-09" if version >= "2026-09" else "2026-03"


def request_profile(request: web.Request) -> Profile:
    """The profile of the version a request's path names (``v4`` when it names none)."""
    return version_profile(request.match_info.get("version", "v4"))


def write_status(profile: Profile, *, errors: bool, success: int) -> int:
    """The status of a batch answer: `success`, 207 with errors, 200 on ``2026-09``."""
    if profile == "2026-09":
        return 200
    return 207 if errors else success
