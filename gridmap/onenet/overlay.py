"""The overlay of a foreign layer with our grid (一张网比对), in PostGIS.

For each of their cells: the units of ours (zones or micro-grids, as the layer says) it
cuts, the area in common with its share of the cell and of the unit, and the households
inside both. Each cell's verdict:

- ``aligned`` (一致): the cell and the unit it shares most area with have outlines at most
  ``GRIDMAP_ONENET_TOLERANCE_M`` apart (default 5 m): the Hausdorff distance between the two
  boundaries, measured in the CGCS2000 Gauss–Krüger zone of the layer and densified to a
  quarter of each edge, so a bulge mid-edge counts. A layer that is ours shifted by 3 m is
  aligned cell for cell.
- ``splits`` (切分我方网格): otherwise, when the cell takes a real part of a unit of ours
  without taking all of it: a piece above ``GRIDMAP_ONENET_MIN_SHARE`` (default 5 %) of the
  unit or of the cell, and below 1 − that share of the unit.
- ``merges`` (由我方整网格组成): otherwise; the cell is whole units of ours (and slivers).
- ``outside``: the cell meets no unit of ours.

Per community the layer reaches: its units, how many an aligned cell matches, how many a
cell splits, and the share of its area and households inside aligned cells: how far the
community is from 一张网.

The stored overlay carries the fingerprint of both layers and of the rule; any change of
either shows it stale (:func:`is_stale`) until it is computed again, by the worker's periodic
refresh (:func:`refresh_stale`) or on demand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.core.errors import NotFound
from gridmap.core.settings import Settings
from gridmap.spatial.crs import local_metric_crs
from gridmap.storage import onenet as store
from gridmap.storage.models import ForeignCell, ForeignLayer


@dataclass(frozen=True)
class Rule:
    """When a cell and a unit align (metres) and what share of a unit is noise."""

    tolerance_m: float
    min_share: float

    @classmethod
    def of(cls, settings: Settings) -> Rule:
        return cls(settings.onenet_tolerance_m, settings.onenet_min_share)

    @property
    def text(self) -> str:
        return f"{self.tolerance_m:g}m/{self.min_share:g}"


def _metric_srid(session: Session, layer_id: int) -> int:
    """The EPSG code of the Gauss–Krüger zone of the layer's centre."""
    lon = session.scalar(
        select(func.ST_X(func.ST_Centroid(func.ST_Extent(ForeignCell.geom)))).where(
            ForeignCell.layer_id == layer_id
        )
    )
    return int(local_metric_crs(float(lon if lon is not None else 117.0)).split(":")[1])


def metres_in_degrees(session: Session, layer_id: int, metres: float) -> float:
    """``metres`` as degrees of longitude at the layer's centre: the larger of the two
    (a degree of longitude is the shorter), so a snap in degrees reaches at least that far."""
    lat = session.scalar(
        select(func.ST_Y(func.ST_Centroid(func.ST_Extent(ForeignCell.geom)))).where(
            ForeignCell.layer_id == layer_id
        )
    )
    return metres / (111_320.0 * math.cos(math.radians(float(lat if lat is not None else 35.0))))


def compute(session: Session, layer_id: int, rule: Rule) -> dict[str, Any]:
    """Compute and store the layer's overlay (the caller commits); returns the cells per
    verdict."""
    level = store.layer_level(session, layer_id)
    if level is None:
        raise NotFound(f"no foreign layer {layer_id}")
    store.run_overlay(
        session,
        layer_id,
        level=level,
        srid=_metric_srid(session, layer_id),
        tolerance_m=rule.tolerance_m,
        min_share=rule.min_share,
    )
    stamp = store.fingerprint(session, layer_id, level=level, rule=rule.text)
    store.mark_computed(
        session, layer_id, stamp=stamp, tolerance_m=rule.tolerance_m, min_share=rule.min_share
    )
    counts = session.execute(
        select(ForeignCell.status, func.count())
        .where(ForeignCell.layer_id == layer_id)
        .group_by(ForeignCell.status)
    )
    return {"layer": layer_id, "cells": {str(s): int(n) for s, n in counts}}


def is_stale(session: Session, layer: store.LayerRow, rule: Rule) -> bool:
    """Whether either layer (or the rule) changed since the layer's overlay was computed."""
    if layer.fingerprint is None:
        return True
    level = layer.compare_level
    return store.fingerprint(session, layer.id, level=level, rule=rule.text) != layer.fingerprint


def refresh_stale(session: Session, rule: Rule) -> list[int]:
    """Recompute every overlay whose layers changed; returns the layers recomputed."""
    done = []
    for layer_id, level in store.all_layers(session):
        stored = session.scalar(select(ForeignLayer.fingerprint).where(ForeignLayer.id == layer_id))
        if stored != store.fingerprint(session, layer_id, level=level, rule=rule.text):
            compute(session, layer_id, rule)
            done.append(layer_id)
    return done
