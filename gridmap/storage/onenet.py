"""Queries of 一张网: foreign layers and their cells, the overlay (its SQL is
``onenet_overlay.sql``) and what a caller may read of it.

What a caller sees: a layer when one of its cells meets a grid in the caller's scope, or when
the caller's area lies inside the area of whoever imported it; of a layer's overlay, only the
pieces on grids in scope, the cells that have one (and the layer's cells that meet none of
ours, for those inside the importer's area), the communities in scope.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    TextClause,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, aliased
from sqlalchemy.types import TypeEngine

from gridmap.access.auth import Scope
from gridmap.storage.grids import BBox, envelope
from gridmap.storage.models import ForeignCell, ForeignLayer, Grid, OnenetPiece, OnenetSummary
from gridmap.storage.scoping import grid_visible
from gridmap.storage.sql import GeometryEncoding, geometry_columns


@dataclass(frozen=True)
class LayerRow:
    """A foreign layer as the pages show it."""

    id: int
    name: str
    department: str
    compare_level: str
    scope_code: str | None
    filename: str
    imported_at: dt.datetime
    cells: int
    overlay_at: dt.datetime | None
    fingerprint: str | None
    tolerance_m: float | None
    min_share: float | None
    report: dict[str, Any]


# ------------------------------------------------------------------------------ writing


def add_layer(session: Session, **values: Any) -> int:
    """Insert a foreign layer's row; returns its id."""
    stmt = insert(ForeignLayer).values(**values).returning(ForeignLayer.id)
    return session.execute(stmt).scalar_one()


def add_cells(session: Session, layer_id: int, rows: list[dict[str, Any]]) -> None:
    """Insert a layer's cells: ``code``, ``name`` and ``geom`` (EWKT, EPSG:4490)."""
    if rows:
        session.execute(
            insert(ForeignCell), [{"layer_id": layer_id, "area_m2": 0.0, **r} for r in rows]
        )


#: The overlay's parameters and their SQL types (bound with a cast: PostgreSQL cannot tell
#: the type of a parameter compared with a literal).
_OVERLAY_PARAMETERS: dict[str, TypeEngine[Any]] = {
    "layer_id": Integer(),
    "level": String(),
    "srid": Integer(),
    "tolerance_m": Float(),
    "min_share": Float(),
}


@cache
def _overlay_statements() -> tuple[TextClause, ...]:
    sql = resources.files("gridmap.storage").joinpath("onenet_overlay.sql").read_text("utf-8")
    statements = []
    for part in sql.split("\n-- ;\n"):
        body = "\n".join(line for line in part.splitlines() if not line.lstrip().startswith("--"))
        if body.strip():
            used: list[BindParameter[Any]] = [
                bindparam(name, type_=kind)
                for name, kind in _OVERLAY_PARAMETERS.items()
                if f":{name}" in body
            ]
            statements.append(text(body).bindparams(*used))
    return tuple(statements)


def run_overlay(
    session: Session,
    layer_id: int,
    *,
    level: str,
    srid: int,
    tolerance_m: float,
    min_share: float,
) -> None:
    """Rewrite the layer's overlay with our current units of ``level`` (statements of
    ``onenet_overlay.sql``, in the caller's transaction)."""
    values = {
        "layer_id": layer_id,
        "level": level,
        "srid": srid,
        "tolerance_m": tolerance_m,
        "min_share": min_share,
    }
    for statement in _overlay_statements():
        session.execute(statement, values)


_FINGERPRINT = text(
    """
    SELECT md5(
        (SELECT coalesce(string_agg(id::text || ':' || md5(ST_AsEWKB(geom)), ',' ORDER BY id), '')
         FROM grid WHERE valid_to IS NULL AND level = :level)
        || '|' ||
        (SELECT coalesce(string_agg(id::text || ':' || md5(ST_AsEWKB(geom)), ',' ORDER BY id), '')
         FROM foreign_cell WHERE layer_id = :layer_id)
        || '|' ||
        (SELECT count(*) || ':' || coalesce(sum(id), 0) || ':' || coalesce(sum(micro_grid_id), 0)
         FROM household)
        || '|' || :rule)
    """
)


def fingerprint(session: Session, layer_id: int, *, level: str, rule: str) -> str:
    """The state of both layers (our current units, the layer's cells, where households are)
    and of the overlay's rule: a stored overlay with another fingerprint is stale."""
    values = {"layer_id": layer_id, "level": level, "rule": rule}
    return str(session.scalar(_FINGERPRINT, values))


def mark_computed(
    session: Session, layer_id: int, *, stamp: str, tolerance_m: float, min_share: float
) -> None:
    session.execute(
        update(ForeignLayer)
        .where(ForeignLayer.id == layer_id)
        .values(
            fingerprint=stamp,
            overlay_at=func.now(),
            tolerance_m=tolerance_m,
            min_share=min_share,
        )
    )


def all_layers(session: Session) -> list[tuple[int, str]]:
    """Every layer's id and compare level (the refresh of stale overlays)."""
    rows = session.execute(select(ForeignLayer.id, ForeignLayer.compare_level).order_by("id"))
    return [(int(i), str(level)) for i, level in rows]


def layer_level(session: Session, layer_id: int) -> str | None:
    found = session.scalar(select(ForeignLayer.compare_level).where(ForeignLayer.id == layer_id))
    return None if found is None else str(found)


# ------------------------------------------------------------------------------ scope


def _prefix_inside(scope: Scope, layer: Any = ForeignLayer) -> ColumnElement[bool]:
    """The caller's area lies inside the importer's (a system administrator's import has no
    area: it shows where it meets the caller's grids only)."""
    if not scope.prefixes:
        return false()
    inside = [literal(p).startswith(layer.scope_code) for p in scope.prefixes]
    return and_(layer.scope_code.is_not(None), or_(*inside))


def _piece_in_scope(scope: Scope, cell_id: Any) -> ColumnElement[bool]:
    if scope.empty:  # and_(…, false()) would drop the join condition along with the rest
        return false()
    piece, grid = aliased(OnenetPiece), aliased(Grid)
    return (
        exists()
        .where(piece.cell_id == cell_id, grid.id == piece.grid_id)
        .where(grid_visible(scope, grid))
    )


def layer_visible(scope: Scope, layer: Any = ForeignLayer) -> ColumnElement[bool]:
    """A layer meeting a grid in scope, or imported for an area holding the caller's."""
    if scope.empty:
        return false()
    piece, grid = aliased(OnenetPiece), aliased(Grid)
    meets = (
        exists()
        .where(piece.layer_id == layer.id, grid.id == piece.grid_id)
        .where(grid_visible(scope, grid))
    )
    return or_(meets, _prefix_inside(scope, layer))


def cell_visible(scope: Scope, cell: Any = ForeignCell) -> ColumnElement[bool]:
    """A cell on a grid in scope, or on none of ours in a layer imported for the caller's
    area."""
    layer = aliased(ForeignLayer)
    lonely = and_(
        cell.status == "outside",
        exists().where(layer.id == cell.layer_id).where(_prefix_inside(scope, layer)),
    )
    return or_(_piece_in_scope(scope, cell.id), lonely)


# ------------------------------------------------------------------------------ reading


def _layer_select() -> Select[Any]:
    cells = (
        select(func.count())
        .where(ForeignCell.layer_id == ForeignLayer.id)
        .correlate(ForeignLayer)
        .scalar_subquery()
    )
    return select(
        ForeignLayer.id,
        ForeignLayer.name,
        ForeignLayer.department,
        ForeignLayer.compare_level,
        ForeignLayer.scope_code,
        ForeignLayer.filename,
        ForeignLayer.imported_at,
        cells.label("cells"),
        ForeignLayer.overlay_at,
        ForeignLayer.fingerprint,
        ForeignLayer.tolerance_m,
        ForeignLayer.min_share,
        ForeignLayer.report,
    )


def layers(session: Session, scope: Scope) -> list[LayerRow]:
    """The layers the caller may see, newest first."""
    stmt = _layer_select().where(layer_visible(scope)).order_by(ForeignLayer.id.desc())
    return [LayerRow(**row._asdict()) for row in session.execute(stmt)]


def layer(session: Session, scope: Scope, layer_id: int) -> LayerRow | None:
    """One layer, None when it does not exist or is not the caller's to see."""
    stmt = _layer_select().where(ForeignLayer.id == layer_id, layer_visible(scope))
    row = session.execute(stmt).first()
    return None if row is None else LayerRow(**row._asdict())


def cells_select(
    scope: Scope,
    layer_id: int,
    geometry: GeometryEncoding | None,
    *,
    bbox: BBox | None = None,
) -> Select[Any]:
    """The layer's cells in scope with their verdict, by code: code, name, status, area,
    households, the best unit's code, the distances, the pieces as text, the outline."""
    best = aliased(Grid)
    piece, unit = aliased(OnenetPiece), aliased(Grid)
    share = func.to_char(piece.share_of_cell * 100, "FM990.0")
    pieces = (
        select(
            func.string_agg(
                unit.code + ":" + share + "%", aggregate_order_by(literal(";"), unit.code)
            )
        )
        .where(piece.cell_id == ForeignCell.id, unit.id == piece.grid_id)
        .where(grid_visible(scope, unit))
        .correlate(ForeignCell)
        .scalar_subquery()
    )
    stmt = (
        select(
            ForeignCell.id,
            ForeignCell.code,
            ForeignCell.name,
            ForeignCell.status,
            ForeignCell.area_m2,
            ForeignCell.households,
            best.code.label("best_grid_code"),
            ForeignCell.hausdorff_m,
            ForeignCell.symdiff_m2,
            pieces.label("pieces"),
            *geometry_columns(ForeignCell.geom, geometry),
        )
        .outerjoin(best, best.id == ForeignCell.best_grid_id)
        .where(ForeignCell.layer_id == layer_id, cell_visible(scope))
        .order_by(ForeignCell.code)
    )
    if bbox:
        stmt = stmt.where(func.ST_Intersects(ForeignCell.geom, envelope(bbox)))
    return stmt


def pieces_select(
    scope: Scope, layer_id: int
) -> Select[str, str, str | None, str, str, float, float, float, int]:
    """What each cell cuts of our units in scope: the cell's code and verdict, the unit's
    code and name, the area, both shares and the households, by cell then unit."""
    return (
        select(
            ForeignCell.code.label("cell_code"),
            ForeignCell.name.label("cell_name"),
            ForeignCell.status,
            Grid.code.label("grid_code"),
            Grid.name.label("grid_name"),
            OnenetPiece.area_m2,
            OnenetPiece.share_of_cell,
            OnenetPiece.share_of_grid,
            OnenetPiece.households,
        )
        .join(ForeignCell, ForeignCell.id == OnenetPiece.cell_id)
        .join(Grid, Grid.id == OnenetPiece.grid_id)
        .where(OnenetPiece.layer_id == layer_id, grid_visible(scope))
        .order_by(ForeignCell.code, Grid.code)
    )


def units_select(scope: Scope, layer_id: int, level: str) -> Select[Any]:
    """Our current units of ``level`` in scope that the layer reaches, each with what the
    layer does to it: ``aligned`` (an aligned cell matches it), ``split`` (a cell takes a
    real part of it without taking it whole) or ``whole`` (only whole or sliver pieces)."""
    layer = aliased(ForeignLayer)
    share = layer.min_share
    piece = aliased(OnenetPiece)
    cut = (
        exists()
        .where(piece.grid_id == Grid.id, piece.layer_id == layer_id, layer.id == layer_id)
        .where(piece.share_of_grid < 1 - share)
        .where(or_(piece.share_of_grid > share, piece.share_of_cell > share))
    )
    matched = exists().where(
        ForeignCell.layer_id == layer_id,
        ForeignCell.best_grid_id == Grid.id,
        ForeignCell.status == "aligned",
    )
    reached = exists().where(OnenetPiece.grid_id == Grid.id, OnenetPiece.layer_id == layer_id)
    verdict = case((matched, "aligned"), (cut, "split"), else_="whole")
    return (
        select(
            Grid.code, Grid.name, verdict.label("verdict"), *geometry_columns(Grid.geom, "geojson")
        )
        .where(Grid.level == level, Grid.valid_to.is_(None), reached, grid_visible(scope))
        .order_by(Grid.code)
    )


def summary_select(
    scope: Scope, layer_id: int
) -> Select[str, str, int, int, int, float, float, int, int]:
    """Each community in scope the layer reaches: how far it is from 一张网."""
    return (
        select(
            Grid.code,
            Grid.name,
            OnenetSummary.units,
            OnenetSummary.aligned_units,
            OnenetSummary.split_units,
            OnenetSummary.area_m2,
            OnenetSummary.aligned_area_m2,
            OnenetSummary.households,
            OnenetSummary.aligned_households,
        )
        .join(Grid, Grid.id == OnenetSummary.community_id)
        .where(OnenetSummary.layer_id == layer_id, grid_visible(scope))
        .order_by(Grid.code)
    )


_DRAFT = text(
    """
    WITH target AS (
        SELECT ST_Collect(ST_Boundary(geom)) AS edges, ST_Extent(geom) AS box
        FROM foreign_cell
        WHERE layer_id = :layer_id AND status = 'aligned'
    ), snapped AS (
        SELECT g.id, g.code, g.name, g.level, g.kind, p.code AS parent_code, g.geom,
               ST_Multi(ST_CollectionExtract(ST_MakeValid(
                   ST_Snap(g.geom, target.edges, :tolerance)), 3)) AS draft
        FROM grid g
        LEFT JOIN grid p ON p.id = g.parent_id
        CROSS JOIN target
        WHERE g.valid_to IS NULL AND target.edges IS NOT NULL
          AND g.geom && ST_Expand(ST_SetSRID(target.box::geometry, 4490), :tolerance)
    )
    SELECT id, code, name, level, kind, parent_code, ST_AsGeoJSON(draft, 9) AS geometry
    FROM snapped
    WHERE NOT ST_Equals(geom, draft)
    ORDER BY length(code), code
    """
).bindparams(bindparam("layer_id", type_=Integer()), bindparam("tolerance", type_=Float()))


def draft_rows(session: Session, scope: Scope, layer_id: int, tolerance_deg: float) -> list[Any]:
    """Our current grids in scope that snapping onto the layer's aligned cells would move:
    code, name, level, kind, parent_code and the snapped outline (GeoJSON text)."""
    rows = session.execute(_DRAFT, {"layer_id": layer_id, "tolerance": tolerance_deg}).all()
    if not rows:
        return []
    visible = set(
        session.scalars(
            select(Grid.id).where(Grid.id.in_([r.id for r in rows]), grid_visible(scope))
        )
    )
    return [r for r in rows if r.id in visible]
