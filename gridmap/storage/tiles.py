"""Mapbox vector tiles (MVT) of the grids and of residents' requests, made by PostGIS.

Every tile is one SQL statement (a second one only for a raw-point tile over the cap): the
candidates are chosen in the stored CRS (EPSG:4490) with the GiST index (``&&`` against the
tile's envelope widened by the tile buffer and transformed to 4490), projected to Web
Mercator, clipped by ``ST_AsMVTGeom`` and encoded by ``ST_AsMVT``.
Tiles follow the XYZ scheme of the WebMercatorQuad tile matrix set (y grows southwards).

- ``grids``: today's grids of one level, with ``code``, ``name`` and ``level``.
- ``requests``: at ``RAW_POINT_ZOOM`` and above, the requests themselves (``id``,
  ``category``, ``state``, ``day`` filed), at most ``RAW_POINT_CAP`` per tile (a fuller tile
  carries its micro-grids' counts instead, and the statement that found it too full stops
  before projecting anything); below it, one point per micro-grid (z13–15) or
  zone (z ≤ 12) at the grid's label point with the count ``n``, summed from the review's tally
  (:func:`gridmap.storage.review.counted`) so that a tile shows the review page's numbers.
  Raw points are found by the multicolumn GiST index on ``(geom, created_at)`` (migration
  0007): a tile's work grows with the requests inside it and its periods, not with the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geoalchemy2.functions import (
    ST_AsMVT,
    ST_AsMVTGeom,
    ST_Expand,
    ST_TileEnvelope,
    ST_Transform,
)
from sqlalchemy import ColumnElement, Float, Integer, and_, false, func, literal, or_, select, true
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.core.clock import BEIJING
from gridmap.requests.lifecycle import CLOCKED
from gridmap.storage import review
from gridmap.storage.models import SRID, Category, Grid, ResidentRequest
from gridmap.storage.scoping import grid_visible

#: The tile matrix set's limits: zoom levels 0..MAX_ZOOM, 2**z tiles a side.
MAX_ZOOM = 22
#: Tile coordinates (``ST_AsMVTGeom`` extent) and the buffer kept around a tile, in them.
EXTENT = 4096
BUFFER = 64
#: From this zoom the requests layer draws each request; below it, counts per grid.
RAW_POINT_ZOOM = 16
#: At most this many raw points in one tile; a fuller tile gets micro-grid counts instead.
RAW_POINT_CAP = 10_000
WEB_MERCATOR = 3857
_WORLD_M = 2 * 20037508.342789244


@dataclass(frozen=True)
class Tile:
    """One tile of WebMercatorQuad: zoom ``z``, column ``x`` and row ``y`` (from the north)."""

    z: int
    x: int
    y: int

    def __post_init__(self) -> None:
        side = 2**self.z if 0 <= self.z <= MAX_ZOOM else 0
        if not (0 <= self.x < side and 0 <= self.y < side):
            raise ValueError(f"no tile {self.z}/{self.x}/{self.y} in WebMercatorQuad")


def grid_level(z: int) -> review.Level:
    """The grid level a map shows at zoom ``z`` unless told: communities, then zones (z13–14),
    then micro-grids (z ≥ 15)."""
    if z < 13:
        return "community"
    return "zone" if z < 15 else "micro"


def aggregate_level(z: int) -> review.Level:
    """The grids whose counts the requests layer draws below ``RAW_POINT_ZOOM``."""
    return "zone" if z <= 12 else "micro"


# ----------------------------------------------------------------------------------- geometry


def _envelope(tile: Tile) -> Any:
    """The tile's square in Web Mercator."""
    return ST_TileEnvelope(
        literal(tile.z, Integer), literal(tile.x, Integer), literal(tile.y, Integer)
    )


def _search_area(tile: Tile) -> Any:
    """The tile and its buffer in the stored CRS: what ``&&`` compares with the GiST index."""
    margin = _WORLD_M / 2**tile.z * BUFFER / EXTENT
    return ST_Transform(ST_Expand(_envelope(tile), literal(margin, Float)), SRID)


def _mvt_geom(tile: Tile, geom: Any) -> Any:
    return ST_AsMVTGeom(ST_Transform(geom, WEB_MERCATOR), _envelope(tile), EXTENT, BUFFER, True)


def _encode(session: Session, layer: str, rows: Any) -> bytes:
    """``rows`` (a select with a ``geom`` column) as one MVT layer.

    ``ST_AsMVT`` skips the rows whose ``geom`` clipping left empty (NULL); filtering them in
    SQL instead would be pushed into the scan and clip every geometry twice.
    """
    found = rows.subquery("features")
    layer_mvt = ST_AsMVT(found.table_valued(), layer, EXTENT, "geom")
    return bytes(session.scalar(select(func.coalesce(layer_mvt, b""))) or b"")


# -------------------------------------------------------------------------------------- grids


def grid_tile(session: Session, tile: Tile, scope: Scope, level: review.Level) -> bytes:
    """Today's grids of ``level`` in the tile that the scope may see: layer ``grids``."""
    g = aliased(Grid)
    rows = select(_mvt_geom(tile, g.geom).label("geom"), g.code, g.name, g.level).where(
        g.geom.op("&&")(_search_area(tile)),
        g.valid_to.is_(None),
        g.level == level,
        grid_visible(scope, g),
    )
    return _encode(session, "grids", rows)


# ----------------------------------------------------------------------------------- requests


def request_tile(
    session: Session, tile: Tile, wanted: review.ReviewFilter, *, cap: int = RAW_POINT_CAP
) -> bytes:
    """The review filter's requests in the tile: layer ``requests``, raw points from
    ``RAW_POINT_ZOOM`` (up to ``cap``), counts per grid below it."""
    if not wanted.prefixes:
        return b""
    if tile.z >= RAW_POINT_ZOOM:
        data, found = _encode_capped(session, tile, _raw_points(tile, wanted), cap)
        if found <= cap:
            return data
        return _encode(session, "requests", _counts(tile, wanted, "micro"))
    return _encode(session, "requests", _counts(tile, wanted, aggregate_level(tile.z)))


def _encode_capped(session: Session, tile: Tile, points: Any, cap: int) -> tuple[bytes, int]:
    """The points as layer ``requests`` if there are at most ``cap`` of them, and how many
    there are (up to ``cap + 1``). Over the cap nothing is projected nor encoded: the
    candidates are counted first, in the same statement."""
    found = points.limit(cap + 1).cte("candidates").prefix_with("MATERIALIZED")
    total = select(func.count()).select_from(found).scalar_subquery()
    properties = [found.c[name] for name in ("id", "category", "state", "day")]
    rows = select(_mvt_geom(tile, found.c.geom).label("geom"), *properties).where(total <= cap)
    features = rows.subquery("features")
    layer = ST_AsMVT(features.table_valued(), "requests", EXTENT, "geom")
    data, count = session.execute(select(func.coalesce(layer, b""), total)).one()
    return bytes(data), int(count)


def _raw_points(tile: Tile, wanted: review.ReviewFilter) -> Any:
    """The filter's requests in the tile: point (stored CRS), id, category code, state and
    the day filed."""
    r, c, micro = aliased(ResidentRequest), aliased(Category), aliased(Grid)
    first, after = review.filed_window(wanted)
    states = [s for s in wanted.states if s in CLOCKED] if wanted.overdue else wanted.states
    day = func.to_char(func.timezone(BEIJING.key, r.created_at), "YYYY-MM-DD")
    rows = (
        select(
            r.geom,
            r.id,
            c.code.label("category"),
            r.state,
            day.label("day"),
        )
        .join(c, c.id == r.category_id)
        .join(micro, micro.id == r.micro_grid_id)
        .where(
            r.geom.op("&&")(_search_area(tile)),
            r.created_at >= first,
            r.created_at < after,
            r.state.in_(states),
            review.in_subtrees(micro.code, wanted.prefixes),
        )
    )
    if wanted.categories:
        rows = rows.where(c.code.in_(wanted.categories))
    if wanted.overdue:
        now = literal(wanted.now) if wanted.now is not None else func.now()
        rows = rows.where(r.stage_deadline < now)
    return rows


def _counts(tile: Tile, wanted: review.ReviewFilter, level: review.Level) -> Any:
    """One point per today's grid of ``level`` in the tile with requests: its label point,
    ``code`` and ``n``, the review's count of the grid's subtree.

    The count is a lateral subquery over ``counted`` narrowed to the grid's micro-grid codes,
    so PostgreSQL sums only the tally rows of the grids in the tile (a range of 17-digit
    codes, which the code index finds, checked exactly by the prefix).
    """
    g, area = aliased(Grid), _search_area(tile)
    counted = review.counted(wanted).c
    length = review.CODE_LENGTH[level]
    if level == "micro":
        inside = counted.code == g.code
    else:
        pad = review.CODE_LENGTH["micro"] - length
        inside = and_(
            counted.code.between(g.code + "0" * pad, g.code + "9" * pad),
            func.substr(counted.code, 1, length) == g.code,
        )
    sums = select(func.sum(counted.n).label("n")).where(inside).lateral("sums")
    return (
        select(
            _mvt_geom(tile, g.label_point).label("geom"),
            g.code,
            sums.c.n.cast(Integer).label("n"),
        )
        .join(sums, true())
        .where(
            # The grid's outline finds it with the index; its label point decides the tile.
            g.geom.op("&&")(area),
            g.label_point.op("&&")(area),
            g.level == level,
            g.valid_to.is_(None),
            _overlapping(g.code, wanted.prefixes),
            sums.c.n > 0,
        )
    )


def _overlapping(code: Any, prefixes: tuple[str, ...]) -> ColumnElement[bool]:
    """Grids inside one of the subtrees, or holding one (a review narrowed to a micro-grid
    still counts in its zone's point)."""
    if not prefixes:
        return false()
    return or_(*[or_(code.startswith(p), literal(p).startswith(code)) for p in prefixes])
