"""Grid tiles kept per scope and grid change count, with the ETag that names each.

A grid tile depends only on today's grids and, through :func:`grid_visible`, on the grid-code
prefixes of the reader's scope; the ``grid`` change count (migration 0033) is counted up by
every write to a grid, in its transaction. A tile made under one count is therefore current
while the count holds: each process keeps the tiles it made, keyed by the count, the scope,
the level and the tile, and a request costs one read of the count. Its ETag names the same
key, so a client that has the tile gets 304 as long as the grids have not changed.

A scope that follows a person's households (a member, a grid worker's covered households)
also sees the grids above them, which change with the coverage: those tiles are made for each
request (their ETag is the tile's own digest) and never kept. Nothing is kept across scopes:
two scopes with different prefixes never share an entry.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.storage import review, tiles

#: The bytes of tiles one process keeps; the least recently used go first beyond it.
KEPT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class GridTile:
    """A grid tile (empty bytes: nothing the scope may see there) and its strong ETag."""

    data: bytes
    etag: str


_Key = tuple[int, tuple[str, ...], str, int, int, int]


class GridTiles:
    """The grid tiles one process made, by grid change count, scope, level and tile."""

    def __init__(self, kept_bytes: int = KEPT_BYTES) -> None:
        self._kept_bytes = kept_bytes
        self._bytes = 0
        self._count = -1
        self._tiles: OrderedDict[_Key, GridTile] = OrderedDict()

    @staticmethod
    def keeps(scope: Scope) -> bool:
        """Whether tiles of ``scope`` may be kept: grid-code prefixes only."""
        return bool(scope.prefixes) and scope.person_id is None and scope.department_id is None

    def get(
        self, session: Session, tile: tiles.Tile, scope: Scope, level: review.Level
    ) -> GridTile:
        """The tile as the scope sees it now: kept, or made (and kept when it may be)."""
        if not self.keeps(scope):
            data = tiles.grid_tile(session, tile, scope, level)
            return GridTile(data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"')
        key = self._key(session, tile, scope, level)
        if key[0] != self._count:  # the grids changed: every kept tile is stale
            self._tiles.clear()
            self._bytes, self._count = 0, key[0]
        found = self._tiles.get(key)
        if found is not None:
            self._tiles.move_to_end(key)
            return found
        found = GridTile(tiles.grid_tile(session, tile, scope, level), _etag(key))
        self._keep(key, found)
        return found

    def _key(self, session: Session, tile: tiles.Tile, scope: Scope, level: review.Level) -> _Key:
        count = tiles.grid_change_count(session)
        return (count, scope.prefixes, level, tile.z, tile.x, tile.y)

    def _keep(self, key: _Key, found: GridTile) -> None:
        size = len(found.data) + 200  # the key and the entry's own overhead, roughly
        if size > self._kept_bytes:
            return
        while self._tiles and self._bytes + size > self._kept_bytes:
            _, dropped = self._tiles.popitem(last=False)
            self._bytes -= len(dropped.data) + 200
        self._tiles[key] = found
        self._bytes += size


def _etag(key: _Key) -> str:
    return '"g' + hashlib.sha256(repr(key).encode()).hexdigest()[:32] + '"'
