"""Text PostgreSQL cannot store: NUL (``text`` and ``jsonb`` have no U+0000) and a lone
UTF-16 surrogate (JSON's ``"\\ud800"`` decodes to one; it has no UTF-8 form). One rule for
every value a caller sends: JSON bodies (member names included), query parameters, path
segments and form fields, refused as a 400 before anything reaches the database."""

from __future__ import annotations

import re
from typing import Any

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: What a refusal says, after where.
MESSAGE = "text must not hold NUL characters (U+0000) or unpaired UTF-16 surrogates"


def unstorable_text(value: Any, where: str = "") -> str | None:
    """Where in a decoded JSON value (keys included) a string holds NUL or a lone surrogate,
    as a dotted path (``"."`` for the value itself), or None.

    Walked with a stack of its own, so a deeply nested body is no recursion error."""
    pending: list[tuple[Any, str]] = [(value, where)]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return path or "."
        elif isinstance(item, dict):
            for key, member in item.items():
                if isinstance(key, str) and UNSTORABLE.search(key):
                    return (path or ".") + " (a member name)"
                pending.append((member, f"{path}.{key}" if path else str(key)))
        elif isinstance(item, list | tuple):
            pending.extend(
                (member, f"{path}.{i}" if path else str(i)) for i, member in enumerate(item)
            )
    return None


def first_unstorable(pairs: Any, kind: str) -> str | None:
    """The first name of ``(name, value)`` pairs (a query string, a form, path arguments)
    whose name or text value cannot be stored, as ``"<kind> <name>"``, or None."""
    for name, text in pairs:
        if UNSTORABLE.search(str(name)) or (isinstance(text, str) and UNSTORABLE.search(text)):
            return f"{kind} {str(name)!r}".replace("\x00", "\\x00")
    return None


def scrub(value: Any) -> Any:
    """``value`` (text or decoded JSON) with every unstorable character replaced by U+FFFD:
    for records of what a caller sent (the audit log of a refusal keeps the path it was
    refused for), where the refusal itself must still be stored."""
    if isinstance(value, str):
        return UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {scrub(key): scrub(member) for key, member in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(member) for member in value]
    return value
