"""A household's address keys computed in Python, as the database computes them.

``household.address_key`` and ``household.building_key`` (migration 0036) are the address as
it is compared (``gridmap_address_key``, migration 0015: NFKC, white space and ASCII
punctuation removed, lower case) and that key up to the first building number
(``gridmap_building_key``: ``…12号楼``, ``…3栋``, ``…5幢``; None without one). Every writer
but the bulk import gets them from the database's trigger; the bulk import computes them here
for a whole chunk and copies them with the rows (its move disables the trigger), so that no
plpgsql runs per row. Both must agree character for character: the tests compare them over
every code point of the planes with characters assigned and over whole addresses (once, by
hand, over all 1,112,063 code points: equal).
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

#: Removed from an address: what PostgreSQL's ``[[:space:]]`` is under the database's
#: C.UTF-8 ctype (Python's ``\\s`` without U+001C–U+001F and U+0085, which glibc's
#: ``iswspace`` does not count), and ASCII punctuation.
_DROPPED = re.compile(r"[^\S\x1c-\x1f\x85]|[!-/:-@\[-`{-~]")
#: A digit and what ends a building number (``gridmap_building_key``'s ``号楼|栋|幢``).
_BUILDING_END = re.compile("[0-9](?:号楼|栋|幢)")


def address_key(address: str) -> str:
    """``gridmap_address_key(address)``. (An address of letters and digits only, the usual
    case, has nothing to drop: the regular expression is skipped.)"""
    key = unicodedata.normalize("NFKC", address)
    if not key.replace("\0", "").isalnum():  # NUL joins a chunk's addresses (address_keys)
        key = _DROPPED.sub("", key)
    # The database lowers one character at a time: U+0130 to "i" (str.lower: "i" and a dot
    # above) and Σ to σ (str.lower: ς at a word's end).
    return key.replace("\u0130", "i").replace("\u03a3", "\u03c3").lower()


def building_key(key: str) -> str | None:
    """``gridmap_building_key`` of an address whose :func:`address_key` is ``key``: the
    database's shortest match of ``^(.*?[0-9]+(号楼|栋|幢))``, i.e. up to the first end of
    one of the words with a digit before it."""
    found = _BUILDING_END.search(key)  # the leftmost digit-and-word ends first
    return None if found is None else key[: found.end()]


def address_keys(addresses: pd.Series) -> tuple[list[str], list[str | None]]:
    """The address key and building key of each address (none missing, none holding NUL),
    for a whole chunk: the chunk is joined by NUL and keyed as one text (every step works
    character by character, and NFKC never reaches across NUL), then split again."""
    if addresses.empty:
        return [], []
    keys = address_key("\0".join(addresses.tolist())).split("\0")
    if len(keys) != len(addresses):
        raise ValueError("an address holds a NUL character")
    return keys, [building_key(k) for k in keys]
