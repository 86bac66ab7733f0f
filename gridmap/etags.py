"""If-Match against the current ETag of a grid or request.

Compressed answers carry their ETag with the encoding appended (``"…:gzip"``, flask-compress
keeps a strong validator per representation), so a client echoing the header it received
matches the resource's ETag as well as one sending the ETag of the JSON body.
"""

from __future__ import annotations

import re

_ENCODED = re.compile(r':(?:br|gzip|deflate|zstd)"$')


def matches(if_match: str, current: str) -> bool:
    return _ENCODED.sub('"', if_match.strip()) == current
