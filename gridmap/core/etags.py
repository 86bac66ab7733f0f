"""If-Match against the current ETag of a grid or request, as RFC 9110 (13.1.1) says, and
If-None-Match against a tile's (13.1.2).

``If-Match`` is ``*`` (any current representation: the resource exists) or a comma list of
entity tags, compared strongly: a weak tag (``W/"…"``) never matches, a strong one matches
when its opaque text equals the current ETag's.

Compressed answers carry their ETag with the encoding appended (``"…:gzip"``, flask-compress
keeps a strong validator per representation), so a client echoing the header it received
matches the resource's ETag as well as one sending the ETag of the JSON body.
"""

from __future__ import annotations

import re

from gridmap.core.errors import GridmapError, InvalidInput

_ENCODED = re.compile(r':(?:br|gzip|deflate|zstd)"$')
#: One list element: an optional weak prefix and a quoted opaque tag (etagc: 0x21, 0x23-0x7E
#: and obs-text, so a comma may stand inside the quotes), then a comma or the end.
_ELEMENT = re.compile(r'[ \t]*(W/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|$)')
_EMPTY = re.compile(r"[ \t]*,")


def parse(if_match: str) -> list[tuple[bool, str]] | None:
    """The entity tags of an ``If-Match`` value as ``(weak, "opaque")`` pairs, or None for
    ``*``. Raises :class:`InvalidInput` when the value is neither."""
    if if_match.strip() == "*":
        return None
    tags: list[tuple[bool, str]] = []
    pos, end = 0, len(if_match)
    while pos < end:
        if empty := _EMPTY.match(if_match, pos):  # empty list elements are allowed (RFC 9110 5.6.1)
            pos = empty.end()
            continue
        if not if_match[pos:].strip():
            break
        found = _ELEMENT.match(if_match, pos)
        if found is None or found.end() == pos:
            raise InvalidInput(
                'If-Match must be * or a comma list of entity tags such as "grid.3", '
                f"not {if_match[:100]!r}"
            )
        tags.append((found.group(1) is not None, found.group(2)))
        pos = found.end()
    return tags


def matches(if_match: str, current: str) -> bool:
    """Whether ``If-Match`` holds for a resource whose current strong ETag is ``current``."""
    tags = parse(if_match)
    if tags is None:
        return True  # "*": the resource has a current representation
    return any(not weak and _ENCODED.sub('"', tag) == current for weak, tag in tags)


def none_match(if_none_match: str, current: str) -> bool:
    """Whether ``If-None-Match`` names the representation whose ETag is ``current`` (RFC 9110
    13.1.2: ``*`` or any listed tag, compared weakly, the encoding's suffix left out), so the
    answer is 304. A malformed value names nothing: the full answer is sent."""
    try:
        tags = parse(if_none_match)
    except InvalidInput:
        return False
    if tags is None:
        return True
    return any(_ENCODED.sub('"', tag) == current for _, tag in tags)


class PreconditionRequired(GridmapError):
    status = 428
    code = "precondition-required"
    title = "Precondition required"


class PreconditionFailed(GridmapError):
    status = 412
    code = "stale"
    title = "Changed since loaded"


def check(if_match: str | None, current: str, what: str, redo: str) -> None:
    """428 without If-Match, 412 unless it is ``*`` or lists ``current`` (strongly), the
    ETag of ``what``; 400 when it is no entity-tag list at all."""
    if not if_match or not if_match.strip():
        raise PreconditionRequired(
            f"Send If-Match with the ETag of the {what.split()[0].lower()} you loaded,"
            " so that no change is lost."
        )
    if not matches(if_match, current):
        weak = " (a weak W/ tag never matches: send the ETag as given)" if "W/" in if_match else ""
        raise PreconditionFailed(
            f"{what} changed since you loaded it (now {current}){weak}: {redo}"
        )
