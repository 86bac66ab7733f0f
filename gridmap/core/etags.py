"""If-Match against the current ETag of a grid or request.

Compressed answers carry their ETag with the encoding appended (``"…:gzip"``, flask-compress
keeps a strong validator per representation), so a client echoing the header it received
matches the resource's ETag as well as one sending the ETag of the JSON body.
"""

from __future__ import annotations

import re

from gridmap.core.errors import GridmapError

_ENCODED = re.compile(r':(?:br|gzip|deflate|zstd)"$')


def matches(if_match: str, current: str) -> bool:
    return _ENCODED.sub('"', if_match.strip()) == current


class PreconditionRequired(GridmapError):
    status = 428
    code = "precondition-required"
    title = "Precondition required"


class PreconditionFailed(GridmapError):
    status = 412
    code = "stale"
    title = "Changed since loaded"


def check(if_match: str | None, current: str, what: str, redo: str) -> None:
    """428 without If-Match, 412 unless it names ``current``, the ETag of ``what``."""
    if not if_match:
        raise PreconditionRequired(
            f"Send If-Match with the ETag of the {what.split()[0].lower()} you loaded,"
            " so that no change is lost."
        )
    if not matches(if_match, current):
        raise PreconditionFailed(f"{what} changed since you loaded it (now {current}): {redo}")
