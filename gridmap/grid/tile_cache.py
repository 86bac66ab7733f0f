"""Grid tiles kept per scope and grid revision, gzipped once, with the ETag that names each.

A grid tile depends only on today's grids and, through :func:`grid_visible`, on the grid-code
prefixes of the reader's scope; the grids' revision (their change count, migration 0033, with
the transaction that counted it: :mod:`gridmap.storage.change_counts`) changes with every
write to a grid, in its transaction. A tile made under one revision is therefore current while
it holds, and is kept under a key naming the database, the revision, the scope, the level and
the tile: in the process (least recently used out beyond :data:`KEPT_BYTES`) and, when the
deployment has a Redis (the rate limits' store), there too, so that every worker and host
serves a tile any of them made. The revision is read with the login check, in its statement:
a kept tile costs no statement of its own. The ETag names the same key, so a client that has
the tile gets 304 as long as the grids have not changed.

Tiles are kept gzipped (as most clients take them) and sent as they are; a client that does
not take gzip gets them inflated. A revision is read before its tile is made, never after, so
a tile is never older than the key it is kept under.

A scope that follows a person's households (a member, a grid worker's covered households)
also sees the grids above them, which change with the coverage: those tiles are made for each
request (their ETag is the tile's own digest) and never kept. Nothing is kept across scopes:
two scopes with different prefixes never share a key.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import redis

from gridmap.access.auth import Scope
from gridmap.storage import review, tiles

log = logging.getLogger(__name__)

#: The bytes of tiles one process keeps; the least recently used go first beyond it.
KEPT_BYTES = 64 * 1024 * 1024
#: How long Redis keeps a tile: a tile of an old revision is never asked for again, and the
#: private Redis evicts only keys that expire (least recently used first, ``volatile-lru``).
SHARED_SECONDS = 24 * 3600
#: The longest wait for Redis (a local one answers in well under a millisecond).
TIMEOUT_SECONDS = 0.5
#: After Redis failed, tiles are kept by the process alone for this long before it is tried
#: again: a store that is gone costs one request :data:`TIMEOUT_SECONDS`, not every request.
RETRY_SECONDS = 10.0
_LEVEL = 6
#: What every key of a kept grid tile starts with.
PREFIX = "gridmap:grid-tile:"


@dataclass(frozen=True)
class GridTile:
    """A grid tile gzipped (empty: nothing the scope may see there) and its strong ETag."""

    gzipped: bytes
    etag: str

    @property
    def data(self) -> bytes:
        """The tile as ``ST_AsMVT`` made it."""
        return gzip.decompress(self.gzipped) if self.gzipped else b""


def _gzip(data: bytes) -> bytes:
    # No file time in the header: the same tile gzips to the same bytes in every process.
    return gzip.compress(data, _LEVEL, mtime=0) if data else b""


class SharedTiles:
    """Tiles kept in Redis for every worker and host; a Redis that fails is left alone for
    :data:`RETRY_SECONDS` (the tiles are made and kept by the process meanwhile), never a 500."""

    def __init__(self, uri: str) -> None:
        # limits' name for a unix socket (GRIDMAP_RATELIMIT_STORAGE_URI) is redis-py's unix://.
        url = "unix://" + uri.removeprefix("redis+unix://") if uri.startswith("redis+unix") else uri
        self._client = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
        )
        self._resting_until = 0.0

    def get(self, key: str) -> bytes | None:
        if time.monotonic() < self._resting_until:
            return None
        try:
            found = self._client.get(key)
        except redis.RedisError:
            self._rest()
            return None
        return None if found is None else bytes(found)  # type: ignore[arg-type]

    def put(self, key: str, gzipped: bytes) -> None:
        if time.monotonic() < self._resting_until:
            return
        try:
            self._client.set(key, gzipped, ex=SHARED_SECONDS)
        except redis.RedisError:
            self._rest()

    def clear(self) -> int:
        """Remove every grid tile kept here (a benchmark's cold start); how many there were."""
        keys = list(self._client.scan_iter(f"{PREFIX}*", count=10_000))
        for start in range(0, len(keys), 1000):
            self._client.delete(*keys[start : start + 1000])
        return len(keys)

    def _rest(self) -> None:
        log.warning("the grid tiles' Redis does not answer: tiles kept per process meanwhile")
        self._resting_until = time.monotonic() + RETRY_SECONDS


class GridTiles:
    """The grid tiles of one database, by revision, scope, level and tile: in the process,
    and in Redis when ``shared`` is given."""

    def __init__(
        self,
        database: str,
        shared: SharedTiles | None = None,
        kept_bytes: int = KEPT_BYTES,
    ) -> None:
        self._database = database
        self._shared = shared
        self._kept_bytes = kept_bytes
        self._bytes = 0
        self._revision = ""
        self._tiles: OrderedDict[str, GridTile] = OrderedDict()
        # A worker's threads (gunicorn's gthread) share the process's tiles.
        self._lock = threading.Lock()

    @staticmethod
    def keeps(scope: Scope) -> bool:
        """Whether tiles of ``scope`` may be kept: grid-code prefixes only."""
        return bool(scope.prefixes) and scope.person_id is None and scope.department_id is None

    def get(
        self,
        revision: str,
        tile: tiles.Tile,
        scope: Scope,
        level: review.Level,
        make: Callable[[], bytes],
    ) -> GridTile:
        """The tile as ``scope`` sees it under the grids' ``revision`` (read before this
        call): kept, or made by ``make`` (and kept when it may be)."""
        if not self.keeps(scope):
            data = make()
            return GridTile(_gzip(data), '"' + hashlib.sha256(data).hexdigest()[:32] + '"')
        key = self.key(revision, tile, scope, level)
        found = self._kept(revision, key)
        if found is not None:
            return found
        gzipped = self._shared.get(key) if self._shared else None
        if gzipped is None:
            gzipped = _gzip(make())
            if self._shared:
                self._shared.put(key, gzipped)
        found = GridTile(gzipped, _etag(key))
        with self._lock:
            if revision == self._revision:  # not when the grids changed meanwhile
                self._keep(key, found)
        return found

    def _kept(self, revision: str, key: str) -> GridTile | None:
        with self._lock:
            if revision != self._revision:  # the grids changed: every tile kept here is stale
                self._tiles.clear()
                self._bytes, self._revision = 0, revision
            found = self._tiles.get(key)
            if found is not None:
                self._tiles.move_to_end(key)
            return found

    def key(self, revision: str, tile: tiles.Tile, scope: Scope, level: review.Level) -> str:
        """Where a tile is kept; the scope by a digest of its prefixes (a long list of them
        would make a long key)."""
        prefixes = hashlib.sha256("\n".join(scope.prefixes).encode()).hexdigest()[:32]
        return f"{PREFIX}{self._database}:{revision}:{prefixes}:{level}:{tile.z}/{tile.x}/{tile.y}"

    def _keep(self, key: str, found: GridTile) -> None:
        size = len(found.gzipped) + 300  # the key and the entry's own overhead, roughly
        if size > self._kept_bytes:
            return
        while self._tiles and self._bytes + size > self._kept_bytes:
            _, dropped = self._tiles.popitem(last=False)
            self._bytes -= len(dropped.gzipped) + 300
        self._tiles[key] = found
        self._bytes += size


def _etag(key: str) -> str:
    return '"g' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'
