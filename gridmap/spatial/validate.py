"""Validation of a three-level grid file before it is imported (网格划分检查).

"城中有网、网中有格": every zone lies in its community, every micro-grid in its zone, siblings do
not overlap and together leave no gap. :func:`validate_grids` checks a file of grids (and the grids
already stored, so a file may add zones to existing communities) and lists every problem with a
place to look at, instead of stopping at the first one.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmap.spatial.crs import CGCS2000, local_metric_crs, transform_xy
from gridmap.spatial.edges import sliver_mask, snap_vertices
from gridmap.spatial.grid_report import Note, Problem, ValidationReport
from gridmap.spatial.row_checks import (
    CODE_LENGTH,
    LEVEL_NAME,
    LEVEL_ZH,
    LEVELS,
    PARENT_LEVEL,
    attribute_problems,
    duplicate_problems,
    geometry_problems,
    grid_name,
    grid_name_zh,
    is_areal,
    orphan_problems,
)

__all__ = ["LEVELS", "PROBLEM_KINDS", "Note", "Problem", "ValidationReport", "validate_grids"]

#: Defaults of the tolerances (the settings ``GRIDMAP_*`` carry the same values).
INSIDE_TOLERANCE_M = 1.0
SLIVER_AREA_M2 = 1.0
SLIVER_WIDTH_M = 0.2
SNAP_TOLERANCE_M = 0.2

PROBLEM_KINDS = (
    "empty_geometry",
    "not_polygon",
    "invalid_geometry",
    "outside_china",
    "unknown_level",
    "unknown_kind",
    "malformed_code",
    "parent_mismatch",
    "duplicate_code",
    "orphan",
    "outside_parent",
    "overlap",
    "gap",
)

_MISSING_TEXT = {"", "none", "nan", "null", "<na>"}


def validate_grids(
    grids: gpd.GeoDataFrame,
    existing: gpd.GeoDataFrame | None = None,
    *,
    inside_tolerance_m: float = INSIDE_TOLERANCE_M,
    sliver_area_m2: float = SLIVER_AREA_M2,
    sliver_width_m: float = SLIVER_WIDTH_M,
    snap_tolerance_m: float = SNAP_TOLERANCE_M,
) -> ValidationReport:
    """Check a grid file: attributes, codes, geometry and the topology of the three levels.

    Parameters
    ----------
    grids : GeoDataFrame
        Columns ``code``, ``name``, ``level`` ('community' | 'zone' | 'micro'), ``kind``
        ('ordinary' | 'dedicated'), ``parent_code`` (optional; when empty it is derived from the
        code prefix) and a (Multi)Polygon geometry in EPSG:4490.
    existing : GeoDataFrame, optional
        The grids already stored, same columns. They are taken as they are (not re-checked),
        except where the file touches them: they can be parents, they count as siblings for
        overlaps and as children when looking for gaps. A file row whose code is also in
        ``existing`` replaces it (a redraw).
    inside_tolerance_m : float
        How far (metres) a child may reach outside its parent before it is an error.
    sliver_area_m2 : float
        Overlaps and gaps of at most this area (square metres) are digitising noise, ignored.
    sliver_width_m : float
        Overlaps and gaps at most this wide (metres: no disc of this diameter fits in them) are
        digitising noise too, however long: the sliver along a 5 km edge is millimetres wide.
    snap_tolerance_m : float
        Vertices of the file's grids this close (metres) to a neighbour's edge are moved onto it
        and inserted into it, so the edge is shared exactly (see
        :func:`gridmap.spatial.edges.snap_vertices`); each grid changed gets a note. 0: none.

    Returns
    -------
    ValidationReport
        Every problem found (kinds in :data:`PROBLEM_KINDS`), the notes of snapped grids, a
        summary, and the snapped geometries an import should write.

    Notes
    -----
    Lengths and areas are measured in the CGCS2000 3-degree Gauss–Krüger zone of the data's
    centre (see :func:`gridmap.spatial.crs.local_metric_crs`). Rows with a broken geometry or
    attribute are reported once and left out of the topology checks that need them.
    """
    tolerances = (inside_tolerance_m, sliver_area_m2, sliver_width_m, snap_tolerance_m)
    if min(tolerances) < 0:
        raise ValueError(
            "inside_tolerance_m, sliver_area_m2, sliver_width_m and snap_tolerance_m must be >= 0"
        )
    table = _table(grids, in_file=True)
    problems = attribute_problems(table) + duplicate_problems(table)
    problems += geometry_problems(table)
    table = _effective(table, existing)
    problems += orphan_problems(table)
    report = ValidationReport()
    if table["spatial"].any():
        report.notes, report.geometries = _snap(table, snap_tolerance_m, len(grids))
        metric = _Metric(table)
        slivers = {"width_m": sliver_width_m, "area_m2": sliver_area_m2}
        problems += _outside_parent_problems(table, metric, inside_tolerance_m, slivers)
        problems += _overlap_problems(table, metric, slivers)
        problems += _gap_problems(table, metric, slivers)
        report.summary = _summary(table, metric)
    else:
        report.summary = _summary(table, None)
    report.problems = problems
    return report


# --- the table -------------------------------------------------------------------------------
def _text(values: pd.Series) -> pd.Series:
    """Strings with every spelling of 'nothing' (None, NaN, '', 'None') as ''."""
    out = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    return out.where(~out.str.lower().isin(_MISSING_TEXT), "")


def _table(frame: gpd.GeoDataFrame, *, in_file: bool) -> pd.DataFrame:
    missing = {"code", "level"} - set(frame.columns)
    if missing:
        raise ValueError(f"grid table lacks column(s) {sorted(missing)}")
    n = len(frame)

    def column(name: str) -> pd.Series:
        if name in frame.columns:
            return _text(frame[name].reset_index(drop=True))
        return pd.Series([""] * n, dtype=object)

    table = pd.DataFrame(
        {
            "code": column("code"),
            "level": column("level").str.lower(),
            "kind": column("kind").str.lower(),
            "given_parent": column("parent_code"),
            "in_file": in_file,
            "row": np.arange(n) if in_file else -1,
        }
    )
    table["geometry"] = np.asarray(frame.geometry.values, dtype=object)
    lon, lat = _anchor(table["geometry"].to_numpy())
    table["at_lon"] = [_none_if_nan(v) for v in lon]
    table["at_lat"] = [_none_if_nan(v) for v in lat]
    expected = table["level"].map(CODE_LENGTH)
    table["code_ok"] = table["code"].str.fullmatch(r"\d+") & (table["code"].str.len() == expected)
    table["parent"] = table["given_parent"].where(
        table["given_parent"] != "", _derived_parent(table)
    )
    table["spatial"] = True  # cleared for rows a geometry or duplicate problem excludes
    return table


def _derived_parent(table: pd.DataFrame) -> pd.Series:
    """The parent code a well-formed zone or micro-grid code implies (its prefix)."""
    derived = pd.Series([""] * len(table), index=table.index, dtype=object)
    for level, parent in PARENT_LEVEL.items():
        rows = (table["level"] == level) & table["code_ok"]
        derived[rows] = table.loc[rows, "code"].str[: CODE_LENGTH[parent]]
    return derived


def _effective(table: pd.DataFrame, existing: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """The grids as they would be after the import: the file, plus stored grids it keeps."""
    if existing is None or len(existing) == 0:
        return table.reset_index(drop=True)
    stored = _table(existing, in_file=False)
    stored = stored[~stored["code"].isin(table["code"])]
    geoms = stored["geometry"].to_numpy()
    stored["spatial"] = is_areal(geoms) & shapely.is_valid(geoms)
    return pd.concat([table, stored], ignore_index=True)


def _anchor(geoms: NDArray[np.object_]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A lon/lat to point at for each row: inside a valid polygon, else its first vertex."""
    lon, lat = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    coords, owner = shapely.get_coordinates(geoms[present], return_index=True)
    rows = np.flatnonzero(present)
    first = np.r_[True, owner[1:] != owner[:-1]] if owner.size else owner.astype(bool)
    lon[rows[owner[first]]], lat[rows[owner[first]]] = coords[first, 0], coords[first, 1]
    good = present & is_areal(geoms)
    good[good] = shapely.is_valid(geoms[good])
    inside = shapely.point_on_surface(geoms[good])
    lon[good], lat[good] = shapely.get_x(inside), shapely.get_y(inside)
    return lon, lat


def _none_if_nan(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def _parent_pairs(table: pd.DataFrame) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(child, parent) positions where both are usable and the pair involves the file."""
    usable = table[table["spatial"]]
    position = pd.Series(usable.index, index=usable["code"])
    position = position[~position.index.duplicated()]
    children = usable[usable["level"].isin(PARENT_LEVEL)]
    parent_pos = children["parent"].map(position)
    same_level = table["level"].to_numpy()
    keep = parent_pos.notna().to_numpy()
    child = children.index.to_numpy()[keep]
    parent = parent_pos.to_numpy()[keep].astype(np.intp)
    right_level = same_level[parent] == np.array([PARENT_LEVEL[x] for x in same_level[child]])
    child, parent = child[right_level], parent[right_level]
    in_file = table["in_file"].to_numpy()
    involved = in_file[child] | in_file[parent]
    return child[involved], parent[involved]


# --- metric geometry ---------------------------------------------------------------------------
class _Metric:
    """The usable geometries in the local Gauss–Krüger zone, and the way back to lon/lat.

    Overlays (overlaps, gaps) are computed on the lon/lat geometries and only their results
    projected for measuring: projecting first would bend shared edges differently where one
    side has an extra vertex, creating slivers that are not in the data.
    """

    def __init__(self, table: pd.DataFrame) -> None:
        geoms = table["geometry"].to_numpy()
        usable = table["spatial"].to_numpy()
        x0, _, x1, _ = shapely.total_bounds(geoms[usable])
        self.crs = local_metric_crs((x0 + x1) / 2)
        self.lonlat_geoms = geoms
        self.geoms = np.full(len(geoms), None, dtype=object)
        self.geoms[usable] = self.project(geoms[usable])

    def project(self, geoms: NDArray[np.object_]) -> NDArray[np.object_]:
        """Lon/lat geometries into the metric CRS."""
        projected: NDArray[np.object_] = shapely.transform(geoms, self._forward)
        return projected

    def _forward(self, coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.column_stack(transform_xy(coords[:, 0], coords[:, 1], CGCS2000, self.crs))

    def lonlat(self, points: NDArray[np.object_]) -> list[tuple[float, float]]:
        """Metric points back to rounded EPSG:4490 lon/lat pairs."""
        if len(points) == 0:
            return []
        lon, lat = transform_xy(shapely.get_x(points), shapely.get_y(points), self.crs, CGCS2000)
        return [(round(float(a), 7), round(float(b), 7)) for a, b in zip(lon, lat, strict=True)]


def _largest_per_owner(owner: NDArray[np.intp], value: NDArray[np.float64]) -> NDArray[np.intp]:
    """Positions of the largest ``value`` of each ``owner`` (one sort, no loop)."""
    if owner.size == 0:
        return owner
    order = np.lexsort((-value, owner))
    return order[np.r_[True, owner[order][1:] != owner[order][:-1]]]


# --- children inside parents -------------------------------------------------------------------
def _outside_parent_problems(
    table: pd.DataFrame, metric: _Metric, tolerance: float, slivers: dict[str, float]
) -> list[Problem]:
    child, parent = _parent_pairs(table)
    if child.size == 0:
        return []
    uniq, inverse = np.unique(parent, return_inverse=True)
    # A child is out when some point of it is farther than the tolerance from the parent, i.e.
    # when it is not covered by the parent grown by the tolerance: exact, and one overlay each.
    grown = shapely.buffer(metric.geoms[uniq], tolerance, quad_segs=16)[inverse]
    out = ~shapely.covers(grown, metric.geoms[child])
    child, parent = child[out], parent[out]
    if child.size == 0:
        return []
    distance, worst = _worst_points(metric.geoms[child], metric.geoms[parent], tolerance)
    ll = metric.lonlat_geoms
    outside = _without_slivers(shapely.difference(ll[child], ll[parent]), metric, slivers)
    area = shapely.area(metric.project(outside))
    problems = []
    rows = zip(child, parent, distance, metric.lonlat(worst), outside, area, strict=True)
    for c, p, d, (lon, lat), part, s in rows:
        rc, rp = table.iloc[c], table.iloc[p]
        problems.append(
            Problem(
                "outside_parent",
                rc["code"],
                f"{grid_name_zh(rc['level'], rc['code'])} 超出上级 "
                f"{grid_name_zh(rp['level'], rp['code'])} {d:.1f} 米 (容差 {tolerance:g} 米)",
                lon,
                lat,
                row=rc["row"] if rc["in_file"] else None,
                message_en=f"{grid_name(rc['level'], rc['code'])} reaches {d:.1f} m outside its "
                f"parent {grid_name(rp['level'], rp['code'])} (tolerance {tolerance:g} m)",
                area_m2=s,
                distance_m=d,
                geometry=part,
            )
        )
    return problems


def _without_slivers(
    geoms: NDArray[np.object_], metric: _Metric, slivers: dict[str, float]
) -> NDArray[np.object_]:
    """The areal parts of each geometry that are not slivers (all of it if every part is)."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    real = (shapely.get_type_id(parts) == 3) & ~sliver_mask(metric.project(parts), **slivers)
    out = geoms.copy()
    if real.any():
        kept = shapely.multipolygons(parts[real], indices=owner[real])
        has = np.unique(owner[real])
        single = shapely.get_num_geometries(kept[has]) == 1
        out[has] = np.where(single, shapely.get_geometry(kept[has], 0), kept[has])
    return out


def _worst_points(
    children: NDArray[np.object_], parents: NDArray[np.object_], tolerance: float
) -> tuple[NDArray[np.float64], NDArray[np.object_]]:
    """The point of each child farthest from its parent, and that distance (metres).

    The farthest point can lie mid-edge (an edge cutting across a notch of the parent), so the
    outside part is densified first: to half the tolerance, coarser for a large outside part so
    that a whole file in the wrong coordinate system still reports quickly.
    """
    outside = shapely.difference(children, parents)
    step = np.maximum(tolerance / 2, shapely.length(outside) / 200) + 1e-9
    coords, owner = shapely.get_coordinates(shapely.segmentize(outside, step), return_index=True)
    points = shapely.points(coords)
    dist = shapely.distance(points, parents[owner])
    first = _largest_per_owner(owner, dist)
    distance = np.zeros(len(children))
    worst = shapely.point_on_surface(children)  # fallback if the outside part is degenerate
    distance[owner[first]] = dist[first]
    worst[owner[first]] = points[first]
    return distance, worst


# --- siblings ----------------------------------------------------------------------------------
def _sibling_key(table: pd.DataFrame) -> NDArray[np.object_]:
    # Communities are all siblings (a street is not a grid level, but they must not overlap).
    key = table["level"] + "|" + table["parent"].where(table["level"] != "community", "")
    keys: NDArray[np.object_] = key.to_numpy(dtype=object)
    return keys


def _overlap_problems(
    table: pd.DataFrame, metric: _Metric, slivers: dict[str, float]
) -> list[Problem]:
    usable = np.flatnonzero(table["spatial"].to_numpy())
    geoms = metric.geoms[usable]
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    a, b = usable[a], usable[b]
    key = _sibling_key(table)
    in_file = table["in_file"].to_numpy()
    keep = (a < b) & (key[a] == key[b]) & (in_file[a] | in_file[b])
    a, b = a[keep], b[keep]
    ll = metric.lonlat_geoms
    overlap_ll = shapely.intersection(ll[a], ll[b])
    # Each areal piece on its own: one real overlap must not hide behind a long sliver.
    parts_ll, owner = shapely.get_parts(overlap_ll, return_index=True)
    parts = metric.project(parts_ll)
    real = (shapely.get_type_id(parts) == 3) & ~sliver_mask(parts, **slivers)
    parts_ll, parts, owner = parts_ll[real], parts[real], owner[real]
    area = shapely.area(parts)
    where = metric.lonlat(shapely.point_on_surface(parts))
    problems = []
    for k, part, s, (lon, lat) in zip(owner, parts_ll, area, where, strict=True):
        ri, rj = table.iloc[a[k]], table.iloc[b[k]]
        problems.append(
            Problem(
                "overlap",
                ri["code"],
                f"{grid_name_zh(ri['level'], ri['code'])} 与 {rj['code']} 重叠 {s:.1f} 平方米",
                lon,
                lat,
                row=ri["row"] if ri["in_file"] else None,
                message_en=f"{grid_name(ri['level'], ri['code'])} and {rj['code']} overlap "
                f"by {s:.1f} m²",
                area_m2=s,
                geometry=part,
            )
        )
    return problems


def _gap_problems(table: pd.DataFrame, metric: _Metric, slivers: dict[str, float]) -> list[Problem]:
    child, parent = _parent_pairs(table)
    if child.size == 0:
        return []
    # All usable children of those parents count, stored ones included.
    everyone_child, everyone_parent = _all_children(table, np.unique(parent))
    parents = np.unique(everyone_parent)
    order = np.argsort(everyone_parent, kind="stable")
    groups = np.split(everyone_child[order], np.searchsorted(everyone_parent[order], parents)[1:])
    ll = metric.lonlat_geoms
    covered = np.array([shapely.union_all(ll[g]) for g in groups], dtype=object)
    parts_ll, owner = shapely.get_parts(shapely.difference(ll[parents], covered), return_index=True)
    parts = metric.project(parts_ll)
    real = (shapely.get_type_id(parts) == 3) & ~sliver_mask(parts, **slivers)
    parts_ll, parts, owner = parts_ll[real], parts[real], owner[real]
    area = shapely.area(parts)
    where = metric.lonlat(shapely.point_on_surface(parts))
    problems = []
    for k, part, s, (lon, lat) in zip(owner, parts_ll, area, where, strict=True):
        rp = table.iloc[parents[k]]
        below = {"community": "zone", "zone": "micro"}[rp["level"]]
        problems.append(
            Problem(
                "gap",
                rp["code"],
                f"{grid_name_zh(rp['level'], rp['code'])}: 有 {s:.1f} 平方米的缝隙不属于任何"
                f"{LEVEL_ZH[below]}",
                lon,
                lat,
                row=rp["row"] if rp["in_file"] else None,
                message_en=f"{grid_name(rp['level'], rp['code'])}: a gap of {s:.1f} m² is in no "
                f"{LEVEL_NAME[below]}",
                area_m2=s,
                geometry=part,
            )
        )
    return problems


def _all_children(
    table: pd.DataFrame, parents: NDArray[np.intp]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    usable = table[table["spatial"]]
    code_at = table["code"].to_numpy()
    wanted = pd.Series(parents, index=code_at[parents])
    children = usable[usable["level"].isin(PARENT_LEVEL) & usable["parent"].isin(wanted.index)]
    parent_pos = wanted.loc[children["parent"]].to_numpy()
    ok = table["level"].to_numpy()[parent_pos] == children["level"].map(PARENT_LEVEL).to_numpy()
    return children.index.to_numpy()[ok], parent_pos[ok]


# --- snapping and summary ----------------------------------------------------------------------
def _snap(
    table: pd.DataFrame, tolerance_m: float, n_file: int
) -> tuple[list[Note], list[shapely.Geometry] | None]:
    """Snap the usable file geometries onto their neighbours' edges (stored grids stay put).

    The table's geometries are replaced by the snapped ones; the notes say which grids moved.
    """
    usable = np.flatnonzero(table["spatial"].to_numpy())
    if tolerance_m <= 0 or usable.size == 0:
        return [], None
    level_order = table["level"].map({level: i for i, level in enumerate(LEVELS)}).fillna(3)
    rank = level_order.to_numpy(dtype=np.int64)
    in_file = table["in_file"].to_numpy()
    geoms = table["geometry"].to_numpy()
    done = snap_vertices(geoms[usable], rank[usable], in_file[usable], tolerance_m)
    changed = done.moved > 0
    if not changed.any():
        return [], None
    geoms = geoms.copy()
    geoms[usable] = done.geoms
    table["geometry"] = geoms
    notes = []
    for k in np.flatnonzero(changed):
        r = table.iloc[usable[k]]
        who, who_zh = grid_name(r["level"], r["code"]), grid_name_zh(r["level"], r["code"])
        lon, lat = done.where[k]
        if not np.isfinite(lon):
            lon, lat = r["at_lon"], r["at_lat"]
        notes.append(
            Note(
                "snapped",
                r["code"],
                f"{who_zh}: {done.moved[k]} 个顶点已吸附到相邻网格的边上 "
                f"(最大移动 {done.shift_m[k]:.3f} 米，容差 {tolerance_m:g} 米)",
                lon,
                lat,
                row=r["row"],
                message_en=f"{who}: {done.moved[k]} vertices snapped onto neighbouring edges "
                f"(largest move {done.shift_m[k]:.3f} m, tolerance {tolerance_m:g} m)",
                distance_m=float(done.shift_m[k]),
            )
        )
    return notes, list(geoms[:n_file])


def _summary(table: pd.DataFrame, metric: _Metric | None) -> dict[str, Any]:
    """File rows per level, and the area (km²) of the usable ones per level."""
    mine = table[table["in_file"]]
    grids = {level: int((mine["level"] == level).sum()) for level in LEVELS}
    area = {}
    if metric is not None:
        usable = (table["in_file"] & table["spatial"]).to_numpy()
        sizes = np.zeros(len(table))
        sizes[usable] = shapely.area(metric.geoms[usable])
        level = table["level"].to_numpy()
        area = {lv: round(float(sizes[level == lv].sum()) / 1e6, 4) for lv in LEVELS}
    return {"grids": grids, "area_km2": area}
