"""The report of a grid file's validation (网格检查报告): problems and notes people can act on.

Each problem names its grid, says in Chinese (and, for logs and the API, in English) what is
wrong, and where: a lon/lat point in CGCS2000 and, for gaps and overlaps, the area itself. The
whole report is a GeoJSON FeatureCollection that opens in QGIS or on a web map.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import shapely

__all__ = ["KIND_LABELS", "Note", "Problem", "ValidationReport"]

#: Chinese label of each problem kind (and of the note kind), for people.
KIND_LABELS = {
    "empty_geometry": "几何为空",
    "not_polygon": "不是面",
    "invalid_geometry": "几何无效",
    "outside_china": "超出中国范围",
    "unknown_level": "层级未知",
    "unknown_kind": "类型未知",
    "malformed_code": "编码格式错误",
    "parent_mismatch": "编码与上级不符",
    "duplicate_code": "编码重复",
    "orphan": "找不到上级",
    "outside_parent": "超出上级网格",
    "overlap": "重叠",
    "gap": "缝隙",
    "snapped": "顶点已吸附",
    "file": "文件无法导入",
}


def _plain(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a grid file.

    Attributes
    ----------
    kind : str
        One of ``gridmap.spatial.validate.PROBLEM_KINDS``.
    code : str or None
        The grid's code (for a gap, the parent's), None when the row has none.
    message : str
        What is wrong, in Chinese, naming the grid and the numbers involved.
    lon, lat : float or None
        Where to look (EPSG:4490); None only when the row has no geometry at all.
    row : int or None
        Position of the row in the input file (0-based), when it comes from one row.
    message_en : str
        The same in English, for logs and API clients.
    area_m2 : float or None
        Area of a gap or overlap; for a child outside its parent, the area outside.
    distance_m : float or None
        How far a child reaches outside its parent.
    geometry : shapely geometry or None
        The gap or overlap itself (lon/lat), or the part of a child outside its parent.
    """

    kind: str
    code: str | None
    message: str
    lon: float | None = None
    lat: float | None = None
    row: int | None = None
    message_en: str = ""
    area_m2: float | None = None
    distance_m: float | None = None
    geometry: shapely.Geometry | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # numpy scalars sneak in from vectorised code; keep the record plain for JSON.
        if self.row is not None:
            object.__setattr__(self, "row", int(self.row))
        for name, digits in (("lon", 7), ("lat", 7), ("area_m2", 1), ("distance_m", 2)):
            object.__setattr__(self, name, _plain(getattr(self, name), digits))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: every field but the geometry, plus the kind's Chinese label."""
        return {
            "kind": self.kind,
            "label": KIND_LABELS.get(self.kind, self.kind),
            "code": self.code,
            "message": self.message,
            "message_en": self.message_en,
            "lon": self.lon,
            "lat": self.lat,
            "row": self.row,
            "area_m2": self.area_m2,
            "distance_m": self.distance_m,
        }

    def feature(self, severity: str = "problem") -> dict[str, Any]:
        """A GeoJSON Feature: the problem's own geometry, else its point, else none."""
        geometry = self.geometry
        if (geometry is None or geometry.is_empty) and self.lon is not None:
            geometry = shapely.Point(self.lon, self.lat)
        return {
            "type": "Feature",
            "geometry": None if geometry is None else shapely.geometry.mapping(geometry),
            "properties": {"severity": severity, **self.as_dict()},
        }


@dataclass(frozen=True)
class Note(Problem):
    """Something the validation changed or wants known, that does not stop the import (e.g.
    vertices snapped onto a neighbour's edge); same fields as :class:`Problem`."""


@dataclass
class ValidationReport:
    """Everything ``validate_grids`` found; ``ok`` when no problem (notes do not count).

    Attributes
    ----------
    problems : list of Problem
    notes : list of Note
        Changes made on purpose (snapped vertices), for a person to review.
    summary : dict
        ``grids`` (file rows per level) and ``area_km2`` (area per level of the file's grids).
    geometries : list or None
        The file's geometries as validated (after snapping), in row order; what an import
        should write. None when nothing was snapped.
    """

    problems: list[Problem] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    geometries: list[shapely.Geometry] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when the file has no problem."""
        return not self.problems

    def as_dicts(self) -> list[dict[str, Any]]:
        """The problems as JSON-ready dicts (see :meth:`Problem.as_dict`)."""
        return [p.as_dict() for p in self.problems]

    def counts(self) -> dict[str, int]:
        """Problems per kind, most frequent first."""
        return dict(Counter(p.kind for p in self.problems).most_common())

    def as_geojson(self) -> dict[str, Any]:
        """The whole report, never truncated: problems then notes as features, with the
        summary, the counts per kind and ``ok`` as members of the FeatureCollection."""
        features = [p.feature() for p in self.problems]
        features += [n.feature("note") for n in self.notes]
        return {
            "type": "FeatureCollection",
            "ok": self.ok,
            "counts": self.counts(),
            "summary": self.summary,
            "features": features,
        }

    def as_text(self, limit: int | None = None, *, english: bool = False) -> str:
        """For a terminal: the counts per kind, then one line per problem (the first
        ``limit``), each with its location (and its English message after a ``|`` with
        ``english``), and how many more there are."""
        if self.ok:
            # The plain line stays as it was (scripts match it); notes follow when any.
            head = "grid file OK: no problems found"
            if self.notes:
                head += f" (检查通过; {len(self.notes)} 条提示 / notes)"
            return head
        counts = ", ".join(f"{KIND_LABELS.get(k, k)} {k} {n}" for k, n in self.counts().items())
        lines = [f"{len(self.problems)} 个问题 ({len(self.problems)} problem(s)): {counts}"]
        shown = self.problems if limit is None else self.problems[:limit]
        for p in shown:
            at = f" @ {p.lon:.7f},{p.lat:.7f}" if p.lon is not None and p.lat is not None else ""
            en = f" | {p.message_en}" if english and p.message_en else ""
            lines.append(f"  [{p.kind}] {p.message}{at}{en}")
        more = len(self.problems) - len(shown)
        if more:
            lines.append(f"  … 另有 {more} 个问题 (and {more} more)")
        return "\n".join(lines)
