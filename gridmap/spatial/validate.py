"""Validation of a three-level grid file before it is imported (网格划分检查).

"城中有网、网中有格": every zone lies in its community, every micro-grid in its zone, siblings do
not overlap and together leave no gap. :func:`validate_grids` checks a file of grids (and the grids
already stored, so a file may add zones to existing communities) and lists every problem with a
place to look at, instead of stopping at the first one.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmap.spatial.crs import CGCS2000, CHINA_LAT, CHINA_LON, local_metric_crs, transform_xy

__all__ = ["LEVELS", "PROBLEM_KINDS", "Problem", "ValidationReport", "validate_grids"]

LEVELS = ("community", "zone", "micro")
GRID_KINDS = ("ordinary", "dedicated")
#: Digits of a code per level: community = 12-digit statistical division code (统计用区划代码),
#: zone = community + 2, micro-grid = zone + 3.
CODE_LENGTH = {"community": 12, "zone": 14, "micro": 17}
PARENT_LEVEL = {"zone": "community", "micro": "zone"}
LEVEL_NAME = {"community": "community", "zone": "zone", "micro": "micro-grid"}

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

_REASON_AT = re.compile(r"\[\s*([-+0-9.eEnaif]+)\s+([-+0-9.eEnaif]+)\s*\]")
_MISSING_TEXT = {"", "none", "nan", "null", "<na>"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a grid file.

    Attributes
    ----------
    kind : str
        One of :data:`PROBLEM_KINDS`.
    code : str or None
        The grid's code, None when the row has none.
    message : str
        What is wrong, in English, naming the grid and the numbers involved.
    lon, lat : float or None
        Where to look (EPSG:4490), when the problem has a place.
    row : int or None
        Position of the row in the input file (0-based), when it comes from one row.
    """

    kind: str
    code: str | None
    message: str
    lon: float | None = None
    lat: float | None = None
    row: int | None = None

    def __post_init__(self) -> None:
        # numpy scalars sneak in from vectorised code; keep the record plain for JSON.
        if self.row is not None:
            object.__setattr__(self, "row", int(self.row))
        for name in ("lon", "lat"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, float(value))


@dataclass
class ValidationReport:
    """Everything :func:`validate_grids` found; ``ok`` when nothing."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file has no problem."""
        return not self.problems

    def as_dicts(self) -> list[dict[str, Any]]:
        """The problems as JSON-ready dicts (kind, code, message, lon, lat, row)."""
        return [asdict(p) for p in self.problems]

    def as_text(self) -> str:
        """A report for a terminal: one line per problem, with its location when known."""
        if self.ok:
            return "grid file OK: no problems found"
        lines = [f"{len(self.problems)} problem(s) found:"]
        for p in self.problems:
            at = f" at {p.lon:.7f},{p.lat:.7f}" if p.lon is not None and p.lat is not None else ""
            lines.append(f"  [{p.kind}] {p.message}{at}")
        return "\n".join(lines)


def validate_grids(
    grids: gpd.GeoDataFrame,
    existing: gpd.GeoDataFrame | None = None,
    *,
    inside_tolerance_m: float = 1.0,
    sliver_area_m2: float = 1.0,
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

    Returns
    -------
    ValidationReport
        Every problem found; kinds are listed in :data:`PROBLEM_KINDS`.

    Notes
    -----
    Lengths and areas are measured in the CGCS2000 3-degree Gauss–Krüger zone of the data's
    centre (see :func:`gridmap.spatial.crs.local_metric_crs`). Rows with a broken geometry or
    attribute are reported once and left out of the topology checks that need them.
    """
    if inside_tolerance_m < 0 or sliver_area_m2 < 0:
        raise ValueError("inside_tolerance_m and sliver_area_m2 must be >= 0")
    table = _table(grids, in_file=True)
    problems = _attribute_problems(table) + _duplicate_problems(table)
    problems += _geometry_problems(table)
    table = _effective(table, existing)
    problems += _orphan_problems(table)
    if table["spatial"].any():
        metric = _Metric(table)
        problems += _outside_parent_problems(table, metric, inside_tolerance_m)
        problems += _overlap_problems(table, metric, sliver_area_m2)
        problems += _gap_problems(table, metric, sliver_area_m2)
    return ValidationReport(problems)


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
    stored["spatial"] = _is_areal(geoms) & shapely.is_valid(geoms)
    return pd.concat([table, stored], ignore_index=True)


def _is_areal(geoms: NDArray[np.object_]) -> NDArray[np.bool_]:
    kind = shapely.get_type_id(geoms)
    areal: NDArray[np.bool_] = ((kind == 3) | (kind == 6)) & ~shapely.is_empty(geoms)
    return areal


def _name(level: str, code: str) -> str:
    return f"{LEVEL_NAME.get(level, 'grid')} {code}" if code else "grid"


def _who(row: Any) -> str:
    return _name(row.level, row.code) if row.code else f"row {row.row} (no code)"


# --- attributes, codes, duplicates -----------------------------------------------------------
def _attribute_problems(table: pd.DataFrame) -> list[Problem]:
    problems: list[Problem] = []
    for r in table.itertuples():
        code = r.code or None
        if r.level not in LEVELS:
            what = f"unknown level {r.level!r}" if r.level else "missing level"
            problems.append(
                Problem(
                    "unknown_level",
                    code,
                    f"{_who(r)}: {what}; allowed: {', '.join(LEVELS)}",
                    row=r.row,
                )
            )
        elif not r.code_ok:
            problems.append(Problem("malformed_code", code, _code_message(r), row=r.row))
        elif r.given_parent and r.level in PARENT_LEVEL and not r.code.startswith(r.given_parent):
            problems.append(
                Problem(
                    "parent_mismatch",
                    code,
                    f"{_who(r)}: code does not extend its parent code {r.given_parent}",
                    row=r.row,
                )
            )
        if r.kind not in GRID_KINDS:
            what = f"unknown kind {r.kind!r}" if r.kind else "missing kind"
            problems.append(
                Problem(
                    "unknown_kind",
                    code,
                    f"{_who(r)}: {what}; allowed: {', '.join(GRID_KINDS)}",
                    row=r.row,
                )
            )
    return problems


def _code_message(r: Any) -> str:
    length = CODE_LENGTH[r.level]
    rule = {
        "community": "the 12-digit statistical division code",
        "zone": "its community's 12 digits + 2",
        "micro": "its zone's 14 digits + 3",
    }[r.level]
    shown = repr(r.code) if r.code else "missing"
    return f"{_who(r)}: code {shown} must be {length} digits ({rule})"


def _duplicate_problems(table: pd.DataFrame) -> list[Problem]:
    coded = table[table["code"] != ""]
    dup = coded["code"].duplicated(keep=False)
    problems = []
    for code, rows in coded[dup].groupby("code", sort=True)["row"]:
        listed = ", ".join(str(i) for i in rows)
        problems.append(
            Problem(
                "duplicate_code", code, f"code {code} appears {len(rows)} times (rows {listed})"
            )
        )
    # Keep the first of each duplicate for the topology checks; the rest would only echo.
    table.loc[coded.index[coded["code"].duplicated(keep="first")], "spatial"] = False
    return problems


# --- geometry ----------------------------------------------------------------------------------
def _geometry_problems(table: pd.DataFrame) -> list[Problem]:
    geoms = table["geometry"].to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    areal = _is_areal(geoms)
    valid = np.zeros(len(geoms), dtype=bool)
    valid[areal] = shapely.is_valid(geoms[areal])
    bounds = np.full((len(geoms), 4), np.nan)
    bounds[areal] = shapely.bounds(geoms[areal])
    with np.errstate(invalid="ignore"):
        in_china = (
            (bounds[:, 0] >= CHINA_LON[0])
            & (bounds[:, 2] <= CHINA_LON[1])
            & (bounds[:, 1] >= CHINA_LAT[0])
            & (bounds[:, 3] <= CHINA_LAT[1])
        )
    problems: list[Problem] = []
    for i in np.flatnonzero(~(areal & valid & in_china)):
        r = table.iloc[i]
        problems.append(_geometry_problem(r, bool(empty[i]), bool(areal[i]), bool(valid[i])))
    table.loc[~(areal & valid & in_china), "spatial"] = False
    return problems


def _geometry_problem(r: pd.Series, empty: bool, areal: bool, valid: bool) -> Problem:
    who, code, geom = _who(r), r["code"] or None, r["geometry"]
    if empty:
        return Problem("empty_geometry", code, f"{who}: geometry is missing or empty", row=r["row"])
    if not areal:
        return Problem(
            "not_polygon",
            code,
            f"{who}: geometry is a {geom.geom_type}, not a Polygon or MultiPolygon",
            row=r["row"],
        )
    if not valid:
        reason = shapely.is_valid_reason(geom)
        lon, lat = _reason_location(reason)
        return Problem(
            "invalid_geometry", code, f"{who}: invalid geometry: {reason}", lon, lat, row=r["row"]
        )
    x0, y0, x1, y1 = shapely.bounds(geom)
    return Problem(
        "outside_china",
        code,
        f"{who}: extends outside China (bounds {x0:.5f},{y0:.5f},{x1:.5f},{y1:.5f}); "
        "check the declared coordinate system and the lon/lat order",
        row=r["row"],
    )


def _reason_location(reason: str) -> tuple[float | None, float | None]:
    """Parse the ``[x y]`` GEOS appends to an invalidity reason, e.g. 'Self-intersection[1 2]'."""
    match = _REASON_AT.search(reason)
    if not match:
        return None, None
    try:
        lon, lat = float(match.group(1)), float(match.group(2))
    except ValueError:
        return None, None
    return (lon, lat) if np.isfinite(lon) and np.isfinite(lat) else (None, None)


# --- parents -----------------------------------------------------------------------------------
def _orphan_problems(table: pd.DataFrame) -> list[Problem]:
    first = table.drop_duplicates("code")
    level_of = dict(zip(first["code"], first["level"], strict=True))
    problems = []
    checked = table[table["in_file"] & table["level"].isin(PARENT_LEVEL) & table["code_ok"]]
    for r in checked.itertuples():
        want = PARENT_LEVEL[r.level]
        found = level_of.get(r.parent)
        if found is None:
            message = f"{_who(r)}: parent {want} {r.parent} is neither in the file nor stored"
        elif found != want:
            message = (
                f"{_who(r)}: parent {r.parent} is a {LEVEL_NAME.get(found, found)}, not a {want}"
            )
        else:
            continue
        problems.append(Problem("orphan", r.code, message, row=r.row))
    return problems


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


def _representative_points(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """A point inside the largest polygonal part of each geometry (overlays may add lines)."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    first = _largest_per_owner(owner, shapely.area(parts))
    out = np.full(len(geoms), None, dtype=object)
    out[owner[first]] = shapely.point_on_surface(parts[first])
    return out


def _largest_per_owner(owner: NDArray[np.intp], value: NDArray[np.float64]) -> NDArray[np.intp]:
    """Positions of the largest ``value`` of each ``owner`` (one sort, no loop)."""
    if owner.size == 0:
        return owner
    order = np.lexsort((-value, owner))
    return order[np.r_[True, owner[order][1:] != owner[order][:-1]]]


# --- children inside parents -------------------------------------------------------------------
def _outside_parent_problems(
    table: pd.DataFrame, metric: _Metric, tolerance: float
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
    problems = []
    for c, p, d, (lon, lat) in zip(child, parent, distance, metric.lonlat(worst), strict=True):
        rc, rp = table.iloc[c], table.iloc[p]
        problems.append(
            Problem(
                "outside_parent",
                rc["code"],
                f"{_name(rc['level'], rc['code'])} reaches {d:.1f} m outside its parent "
                f"{_name(rp['level'], rp['code'])} (tolerance {tolerance:g} m)",
                lon,
                lat,
                row=rc["row"] if rc["in_file"] else None,
            )
        )
    return problems


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


def _overlap_problems(table: pd.DataFrame, metric: _Metric, sliver: float) -> list[Problem]:
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
    overlap = metric.project(shapely.intersection(ll[a], ll[b]))
    area = shapely.area(overlap)
    big = area > sliver
    a, b, area, overlap = a[big], b[big], area[big], overlap[big]
    where = metric.lonlat(_representative_points(overlap))
    problems = []
    for i, j, s, (lon, lat) in zip(a, b, area, where, strict=True):
        ri, rj = table.iloc[i], table.iloc[j]
        problems.append(
            Problem(
                "overlap",
                ri["code"],
                f"{_name(ri['level'], ri['code'])} and {rj['code']} overlap by {s:.1f} m²",
                lon,
                lat,
                row=ri["row"] if ri["in_file"] else None,
            )
        )
    return problems


def _gap_problems(table: pd.DataFrame, metric: _Metric, sliver: float) -> list[Problem]:
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
    gaps = metric.project(shapely.difference(ll[parents], covered))
    parts, owner = shapely.get_parts(gaps, return_index=True)
    area = shapely.area(parts)
    big = (shapely.get_type_id(parts) == 3) & (area > sliver)
    parts, owner, area = parts[big], owner[big], area[big]
    where = metric.lonlat(shapely.point_on_surface(parts))
    problems = []
    for k, s, (lon, lat) in zip(owner, area, where, strict=True):
        rp = table.iloc[parents[k]]
        below = LEVEL_NAME[{"community": "zone", "zone": "micro"}[rp["level"]]]
        problems.append(
            Problem(
                "gap",
                rp["code"],
                f"{_name(rp['level'], rp['code'])}: a gap of {s:.1f} m² is in no {below}",
                lon,
                lat,
                row=rp["row"] if rp["in_file"] else None,
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
