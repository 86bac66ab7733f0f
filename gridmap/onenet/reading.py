"""What the 一张网 page and API read: the layers, one layer with its summary, its cells and
our units as GeoJSON, each within the caller's scope (:mod:`gridmap.storage.onenet`)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core import clock, glossary
from gridmap.core.errors import NotFound
from gridmap.onenet.overlay import Rule, is_stale, metres_in_degrees
from gridmap.storage import onenet as store


def _layer(session: Session, scope: Scope, layer_id: int) -> store.LayerRow:
    found = store.layer(session, scope, layer_id)
    if found is None:
        raise NotFound(f"no foreign layer {layer_id}")
    return found


def _when(value: Any) -> str | None:
    return None if value is None else clock.local_text(value)


def _brief(row: store.LayerRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "department": row.department,
        "department_label": glossary.label(glossary.ONENET_DEPARTMENTS, row.department),
        "compare_level": row.compare_level,
        "cells": row.cells,
        "imported_at": _when(row.imported_at),
        "overlay_at": _when(row.overlay_at),
    }


def layer_list(session: Session, scope: Scope) -> dict[str, Any]:
    """The layers the caller may see, newest first."""
    return {"results": [_brief(r) for r in store.layers(session, scope)]}


def layer_detail(session: Session, scope: Scope, layer_id: int, rule: Rule) -> dict[str, Any]:
    """One layer: what it is, whether its overlay is stale, the rule, its own report, each
    community in scope's distance from 一张网 and the cells in scope per verdict."""
    row = _layer(session, scope, layer_id)
    summary = [_community(r) for r in session.execute(store.summary_select(scope, layer_id))]
    statuses: dict[str, int] = {}
    for cell in session.execute(store.cells_select(scope, layer_id, None)):
        statuses[cell.status or "outside"] = statuses.get(cell.status or "outside", 0) + 1
    return _brief(row) | {
        "filename": row.filename,
        "stale": is_stale(session, row, rule),
        "rule": {"tolerance_m": row.tolerance_m, "min_share": row.min_share},
        "report": row.report,
        "summary": summary,
        "statuses": statuses,
    }


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _community(r: Any) -> dict[str, Any]:
    return {
        "code": r.code,
        "name": r.name,
        "units": r.units,
        "aligned_units": r.aligned_units,
        "split_units": r.split_units,
        "area_m2": round(r.area_m2, 1),
        "aligned_area_share": _share(r.aligned_area_m2, r.area_m2),
        "households": r.households,
        "aligned_household_share": _share(r.aligned_households, r.households),
    }


def cells_collection(session: Session, scope: Scope, layer_id: int) -> dict[str, Any]:
    """The layer's cells in scope as GeoJSON, each with its verdict and what it cuts."""
    _layer(session, scope, layer_id)
    rows = session.execute(store.cells_select(scope, layer_id, "geojson"))
    features = [
        {
            "type": "Feature",
            "id": r.code,
            "geometry": json.loads(r.geometry),
            "properties": {
                "code": r.code,
                "name": r.name,
                "status": r.status,
                "status_label": glossary.label(glossary.ONENET_STATUSES, r.status),
                "area_m2": round(r.area_m2, 1),
                "households": r.households,
                "best_grid_code": r.best_grid_code,
                "hausdorff_m": None if r.hausdorff_m is None else round(r.hausdorff_m, 2),
                "symdiff_m2": None if r.symdiff_m2 is None else round(r.symdiff_m2, 1),
                "pieces": r.pieces,
            },
        }
        for r in rows
    ]
    return {"type": "FeatureCollection", "features": features}


def units_collection(session: Session, scope: Scope, layer_id: int) -> dict[str, Any]:
    """Our units in scope that the layer reaches, as GeoJSON, each with what it does to it."""
    row = _layer(session, scope, layer_id)
    rows = session.execute(store.units_select(scope, layer_id, row.compare_level))
    features = [
        {
            "type": "Feature",
            "id": r.code,
            "geometry": json.loads(r.geometry),
            "properties": {
                "code": r.code,
                "name": r.name,
                "verdict": r.verdict,
                "verdict_label": glossary.label(glossary.ONENET_VERDICTS, r.verdict),
            },
        }
        for r in rows
    ]
    return {"type": "FeatureCollection", "features": features}


def draft_collection(session: Session, scope: Scope, layer_id: int, rule: Rule) -> dict[str, Any]:
    """A proposed unified boundary set (草稿): our current grids in scope snapped onto the
    outlines of the layer's aligned cells (within the rule's tolerance), as a grid file the
    import page's redraw takes (code, name, level, kind, parent_code). Only the grids that
    move are in it; the import page's check says what the redraw would change."""
    _layer(session, scope, layer_id)
    tolerance = metres_in_degrees(session, layer_id, rule.tolerance_m)
    rows = store.draft_rows(session, scope, layer_id, tolerance)
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(r.geometry),
            "properties": {
                "code": r.code,
                "name": r.name,
                "level": r.level,
                "kind": r.kind,
                "parent_code": r.parent_code,
            },
        }
        for r in rows
    ]
    return {"type": "FeatureCollection", "name": f"onenet-draft-{layer_id}", "features": features}
