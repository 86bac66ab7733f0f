"""Where the rate limits count: the store of Flask-Limiter's counters, and whether it answers.

``memory://`` counts in each process: gunicorn's N workers let N times a limit through. A Redis
URI (``redis://``, ``rediss://``, ``redis+unix://``) shares the counters among the workers and
the hosts; ``./scripts/run`` starts a private one. A Redis that does not answer never turns a
request into a 500: the limiter counts in the process meanwhile (each limit then holds per
process, as with ``memory://``), tries the store again after pauses growing from 1 s to 32 s,
and readiness says ``"rate_limit_store": "unreachable"``.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from flask import Flask, current_app
from limits.storage import RedisStorage

#: The longest wait for Redis, to connect or to answer (a local one answers in well under a
#: millisecond); without it a hung store would hold every limited request forever. A store
#: that stops answering costs one request this long, then the process counts on its own.
TIMEOUT_SECONDS = 0.5

_STORE = "gridmap.rate_limit_store"

StoreState = Literal["ok", "unreachable"]


def is_shared(uri: str) -> bool:
    """Whether ``uri`` names a store outside the process (Redis), not ``memory://``."""
    return urlsplit(uri).scheme != "memory"


def storage_options(uri: str) -> dict[str, Any]:
    """The Redis client's options for the store ``uri`` (none for ``memory://``)."""
    if not is_shared(uri):
        return {}
    return {"socket_connect_timeout": TIMEOUT_SECONDS, "socket_timeout": TIMEOUT_SECONDS}


def init_app(app: Flask, uri: str) -> None:
    """Keep a client of the app's own store for readiness: Flask-Limiter's one storage belongs
    to its single ``Limiter``, which the last app built in a process (tests) reconfigures."""
    store: RedisStorage | None = None
    if is_shared(uri):
        # No connection yet: the client connects at its first command (after gunicorn forks).
        store = RedisStorage(uri, **storage_options(uri))
    app.extensions[_STORE] = store


def store_state() -> StoreState | None:
    """Whether the current app's shared store answers a PING within :data:`TIMEOUT_SECONDS`;
    ``None`` when the limits count in memory."""
    store: RedisStorage | None = current_app.extensions[_STORE]
    if store is None:
        return None
    return "ok" if store.check() else "unreachable"
