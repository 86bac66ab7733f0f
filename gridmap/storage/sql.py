"""Small SQL helpers shared by the query modules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

from sqlalchemy import BindParameter, Label, Row, Select, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine


def as_array(
    values: Iterable[Any], item_type: TypeEngine[Any] | type[TypeEngine[Any]]
) -> BindParameter[list[Any]]:
    """One array parameter instead of one parameter per value (use with ``= any_(...)``):
    files and selections can hold millions of values, past the protocol's 65 535."""
    return literal(list(values), ARRAY(item_type))


#: How an export reads a geometry: GeoJSON text, WKT (7 decimals), WKB, or the lon/lat of a
#: point (a polygon's point on its surface).
GeometryEncoding = Literal["geojson", "wkt", "wkb", "lonlat"]


def geometry_columns(geom: Any, encoding: GeometryEncoding | None) -> list[Label[Any]]:
    """The columns that carry ``geom`` (EPSG:4490, degrees) in ``encoding``: ``geometry``, or
    ``lon`` and ``lat``; none for None."""
    if encoding is None:
        return []
    if encoding == "lonlat":
        point = func.ST_PointOnSurface(geom)
        return [func.ST_X(point).label("lon"), func.ST_Y(point).label("lat")]
    if encoding == "wkt":
        return [func.ST_AsText(geom, 7).label("geometry")]
    if encoding == "wkb":
        return [func.ST_AsBinary(geom).label("geometry")]
    return [func.ST_AsGeoJSON(geom, 7, 0).label("geometry")]


def count_upto(session: Session, stmt: Select[Any], cap: int) -> int:
    """How many rows ``stmt`` has, counting no further than ``cap + 1`` (so a check whether an
    export is small enough costs at most that many rows)."""
    capped = stmt.order_by(None).limit(cap + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(capped)) or 0)


def stream(session: Session, stmt: Select[Any], batch: int = 2000) -> Iterator[Row[Any]]:
    """The rows of ``stmt`` through a server-side cursor, ``batch`` at a time: memory stays
    the same however many there are. The session's transaction must stay open meanwhile."""
    result = session.execute(stmt, execution_options={"yield_per": batch})
    try:
        yield from result
    finally:
        result.close()
