"""The demo grid: a county's streets split into communities, zones and micro-grids that tile
them exactly, numbered in reading order."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmap.spatial.crs import CGCS2000

#: Coordinates are snapped to this grid (degrees): 1e-7° ≈ 1 cm, far below any grid tolerance.
GRID_SIZE = 1e-7

COUNTY_NAMES = {"110101": "东城区"}
# The 17 streets of Dongcheng. Their order here is not their real position: the grid is synthetic.
DONGCHENG_STREETS = (
    "和平里",
    "东华门",
    "景山",
    "交道口",
    "安定门",
    "北新桥",
    "东四",
    "朝阳门",
    "建国门",
    "东直门",
    "前门",
    "崇文门外",
    "东花市",
    "龙潭",
    "体育馆路",
    "天坛",
    "永定门外",
)
GENERIC_STREETS = (
    "长安",
    "和平",
    "民主",
    "团结",
    "幸福",
    "光明",
    "胜利",
    "建设",
    "新华",
    "人民",
    "文化",
    "友谊",
    "朝阳",
    "向阳",
    "东风",
    "红星",
    "前进",
    "解放",
    "育才",
    "迎宾",
)
FACILITIES = ("学校", "医院", "机关单位", "企业园区", "公园", "商场", "幼儿园", "养老院")
CARE_TAGS = ("elderly_alone", "disabled", "low_income", "left_behind_child", "veteran")
# Share of households carrying each care tag (关爱对象): a few percent in all.
CARE_RATES = (0.025, 0.012, 0.012, 0.004, 0.008)
RESIDENT_SHARES = (0.18, 0.32, 0.25, 0.15, 0.07, 0.03)  # 1..6 residents
_DEDICATED_SHARE = 0.04

FloatArray = NDArray[np.float64]


# --- naming --------------------------------------------------------------------------------------
def county_name(county_code: str) -> str:
    """The district name for a 6-digit county code (``"示范区"`` when unknown)."""
    return COUNTY_NAMES.get(county_code, "示范区")


def street_name(county_code: str, street: int) -> str:
    """The name of street number ``street`` (1-based) of a county, without "街道"."""
    names = DONGCHENG_STREETS if county_code == "110101" else GENERIC_STREETS
    base = names[(street - 1) % len(names)]
    return base if street <= len(names) else f"{base}{(street - 1) // len(names) + 1}"


# --- geometry helpers ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _LocalPlane:
    """An affine lon/lat ↔ metres plane around a centre, for drawing partitions.

    Affine on purpose: straight edges of the outline stay straight both ways, so the generated
    communities add up to the outline exactly (a map projection would bend long edges by
    centimetres). Its scale error, well under 1 % across a city, only shapes random cells.
    """

    lon0: float
    lat0: float

    @property
    def _scale(self) -> tuple[float, float]:
        return 111_320.0 * np.cos(np.radians(self.lat0)), 110_574.0

    def to_metres(self, coords: FloatArray) -> FloatArray:
        sx, sy = self._scale
        metres: FloatArray = (coords - np.array([self.lon0, self.lat0])) * np.array([sx, sy])
        return metres

    def to_lonlat(self, coords: FloatArray) -> FloatArray:
        sx, sy = self._scale
        lonlat: FloatArray = coords / np.array([sx, sy]) + np.array([self.lon0, self.lat0])
        return lonlat


def _sample_inside(
    polygon: shapely.Geometry, n: int, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """``n`` uniform random points strictly inside one polygon (rejection sampling)."""
    x0, y0, x1, y1 = polygon.bounds
    fill = max(polygon.area / max((x1 - x0) * (y1 - y0), 1e-30), 0.01)
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    got = 0
    while got < n:
        m = int((n - got) / fill * 1.3) + 8
        x, y = rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)
        keep = shapely.contains_xy(polygon, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        got += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _partition(polygon: shapely.Geometry, n: int, rng: np.random.Generator) -> NDArray[np.object_]:
    """Cut a polygon (in metres) into ``n`` Voronoi cells that tile it.

    One Lloyd step (moving each seed to its cell's centroid) evens out the wildly unequal cells
    of raw random seeds while keeping some of the variety of real grids.
    """
    if n <= 1:
        return np.array([polygon], dtype=object)
    x, y = _sample_inside(polygon, n, rng)
    envelope = shapely.buffer(shapely.envelope(polygon), 1000.0)
    for relax in (True, False):
        seeds = shapely.multipoints(np.column_stack([x, y]))
        cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=envelope))
        cells = shapely.intersection(cells, polygon)
        cells = cells[~shapely.is_empty(cells) & (shapely.area(cells) > 0)]
        if relax:
            centre = shapely.centroid(cells)
            # A centroid can fall outside a non-convex cell (or the parent): use a surface point.
            outside = ~shapely.contains(polygon, centre)
            centre[outside] = shapely.point_on_surface(cells[outside])
            x, y = shapely.get_x(centre), shapely.get_y(centre)
    voronoi: NDArray[np.object_] = cells
    return voronoi


def reading_order(
    x: FloatArray, y: FloatArray, bounds: tuple[float, float, float, float]
) -> NDArray[np.intp]:
    """Order grids north→south, then west→east, the way their sequence numbers are given.

    The rule: the parent's bounding box is cut into ``round(sqrt(n))`` horizontal bands of equal
    height; bands are taken from north to south, and within a band grids go from west to east.
    A grid belongs to the band holding its centroid (``x``, ``y``).

    Parameters
    ----------
    x, y : ndarray
        Centroids of the children (any CRS with x east and y north).
    bounds : tuple
        The parent's (minx, miny, maxx, maxy) in the same CRS.

    Returns
    -------
    ndarray
        Indices into ``x``/``y`` in numbering order (the first gets number 1).
    """
    n = len(x)
    rows = max(1, round(np.sqrt(n)))
    height = max(bounds[3] - bounds[1], 1e-12)
    band = np.clip(np.floor((bounds[3] - np.asarray(y)) / height * rows), 0, rows - 1)
    return np.lexsort((np.asarray(x), band))


# --- the grid ------------------------------------------------------------------------------------
@dataclass
class _Cell:
    """A node of the hierarchy while it is being built (geometry in the local plane, metres)."""

    geometry: shapely.Geometry
    parent: int  # index in the list of the level above; -1 for streets
    seq: int = 0  # sequence number within the parent (1-based), set by _number


def _split(parents: list[_Cell], counts: list[int], rng: np.random.Generator) -> list[_Cell]:
    children: list[_Cell] = []
    for i, (cell, n) in enumerate(zip(parents, counts, strict=True)):
        children += [_Cell(g, i) for g in _partition(cell.geometry, n, rng)]
    return children


def _allocate(total: int, weights: FloatArray) -> list[int]:
    """Split ``total`` into integers proportional to ``weights``, each at least 1."""
    share = weights / weights.sum() * (total - len(weights))
    base = np.floor(share).astype(int)
    left = total - len(weights) - int(base.sum())
    base[np.argsort(-(share - base), kind="stable")[:left]] += 1
    return [int(b) + 1 for b in base]


def _check_grid_arguments(
    county_code: str,
    communities: int,
    zones_per_community: tuple[int, int],
    micros_per_zone: tuple[int, int],
    streets: int,
) -> None:
    if not (len(county_code) == 6 and county_code.isdigit()):
        raise ValueError(f"county_code must be 6 digits, got {county_code!r}")
    if not 1 <= streets <= min(communities, 999):
        raise ValueError(f"streets must be 1..min(communities, 999), got {streets}")
    if communities > 999 * streets:
        raise ValueError("at most 999 communities per street (3 code digits)")
    for name, (lo, hi), top in (
        ("zones_per_community", zones_per_community, 99),
        ("micros_per_zone", micros_per_zone, 999),
    ):
        if not 1 <= lo <= hi <= top:
            raise ValueError(f"{name} must be (lo, hi) with 1 <= lo <= hi <= {top}")


def generate_grid(
    outline: shapely.Polygon | shapely.MultiPolygon,
    *,
    county_code: str = "110101",
    communities: int,
    zones_per_community: tuple[int, int] = (3, 6),
    micros_per_zone: tuple[int, int] = (8, 14),
    streets: int = 17,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """Generate a three-level grid (社区 → 片区 → 微网格) that tiles a district.

    Parameters
    ----------
    outline : Polygon or MultiPolygon
        The district, EPSG:4490 lon/lat.
    county_code : str
        6-digit county code, the first digits of every grid code.
    communities : int
        Number of communities; they are spread over the streets in proportion to street area.
    zones_per_community, micros_per_zone : (int, int)
        Inclusive ranges the number of children is drawn from.
    streets : int
        Number of streets (街道) grouping the communities; not a grid level, only code digits.
    seed : int
        Seed of the random generator: the same arguments give the same grid.

    Returns
    -------
    GeoDataFrame
        Columns code, name, level ('community' | 'zone' | 'micro'), kind ('ordinary' |
        'dedicated'), parent_code (None for communities), geometry (Polygon or MultiPolygon,
        EPSG:4490, vertices on a 1e-7° grid), sorted by code. Children tile their parent
        exactly: all levels are built from one noded set of micro-grid faces.

    Notes
    -----
    Zones and micro-grids are numbered within their parent in the order of
    :func:`reading_order` (north→south bands, west→east within a band); communities likewise
    within their street, and streets within the district.
    """
    _check_grid_arguments(county_code, communities, zones_per_community, micros_per_zone, streets)
    rng = np.random.default_rng(seed)
    lon0, lat0 = shapely.centroid(outline).coords[0]
    plane = _LocalPlane(lon0, lat0)
    area = shapely.transform(outline, plane.to_metres)
    street_cells = _split([_Cell(area, -1)], [streets], rng)
    street_weights = shapely.area(np.array([c.geometry for c in street_cells], dtype=object))
    community_cells = _split(street_cells, _allocate(communities, street_weights), rng)
    zone_counts = rng.integers(
        zones_per_community[0], zones_per_community[1] + 1, len(community_cells)
    )
    zone_cells = _split(community_cells, zone_counts.tolist(), rng)
    micro_counts = rng.integers(micros_per_zone[0], micros_per_zone[1] + 1, len(zone_cells))
    micro_cells = _split(zone_cells, micro_counts.tolist(), rng)
    micro_geoms, keep = _noded_faces(micro_cells, plane)
    micro_cells = [c for c, k in zip(micro_cells, keep, strict=True) if k]
    zone_geoms = _dissolve(micro_geoms, [c.parent for c in micro_cells], len(zone_cells))
    community_geoms = _dissolve(zone_geoms, [c.parent for c in zone_cells], len(community_cells))
    street_geoms = _dissolve(
        community_geoms, [c.parent for c in community_cells], len(street_cells)
    )
    for cells, geoms in (
        (street_cells, street_geoms),
        (community_cells, community_geoms),
        (zone_cells, zone_geoms),
        (micro_cells, micro_geoms),
    ):
        _number(cells, geoms)
    return _grid_frame(
        county_code,
        (street_cells, community_cells, zone_cells, micro_cells),
        (community_geoms, zone_geoms, micro_geoms),
        rng,
    )


def _noded_faces(
    cells: list[_Cell], plane: _LocalPlane
) -> tuple[NDArray[np.object_], NDArray[np.bool_]]:
    """Final lon/lat micro-grids that share every edge exactly.

    Rounding each polygon on its own would move a vertex that lies mid-edge of a neighbour off
    that edge and open centimetre slivers, which add up to square metres along long edges. So the
    boundaries of all cells are noded together with snap-rounding to ``GRID_SIZE``, polygonised
    into faces, and each face given back to the cell holding its interior point.
    """
    geoms = shapely.transform(np.array([c.geometry for c in cells], dtype=object), plane.to_lonlat)
    lines = shapely.union_all(shapely.boundary(geoms), grid_size=GRID_SIZE)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    inner = shapely.point_on_surface(faces)
    face_idx, cell_idx = shapely.STRtree(geoms).query(inner, predicate="intersects")
    owner = np.full(len(faces), len(cells), dtype=np.int64)  # len(cells): a hole, no owner
    np.minimum.at(owner, face_idx, cell_idx)
    result = _dissolve(faces, owner.tolist(), len(cells) + 1)[:-1]
    keep = ~shapely.is_empty(result)
    return result[keep], keep


def _dissolve(geoms: NDArray[np.object_], parent: list[int], n_parents: int) -> NDArray[np.object_]:
    """Union children per parent; children of one parent share exact edges (a coverage)."""
    parent_arr = np.asarray(parent, dtype=np.int64)
    order = np.argsort(parent_arr, kind="stable")
    starts = np.searchsorted(parent_arr[order], np.arange(n_parents + 1))
    out = np.empty(n_parents, dtype=object)
    for i in range(n_parents):
        group = geoms[order[starts[i] : starts[i + 1]]]
        out[i] = group[0] if len(group) == 1 else shapely.coverage_union_all(group)
    missing = np.array([g is None for g in out])
    out[missing] = shapely.Polygon()
    return out


def _number(cells: list[_Cell], geoms: NDArray[np.object_]) -> None:
    """Give each cell its sequence number within its parent, by :func:`reading_order`."""
    centre = shapely.centroid(geoms)
    x, y = shapely.get_x(centre), shapely.get_y(centre)
    parent = np.array([c.parent for c in cells])
    for p in np.unique(parent):
        members = np.flatnonzero(parent == p)
        bounds = tuple(shapely.total_bounds(geoms[members]))
        for seq, k in enumerate(reading_order(x[members], y[members], bounds), start=1):
            cells[members[k]].seq = seq


def _grid_frame(
    county_code: str,
    levels: tuple[list[_Cell], list[_Cell], list[_Cell], list[_Cell]],
    geoms: tuple[NDArray[np.object_], NDArray[np.object_], NDArray[np.object_]],
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    streets, communities, zones, micros = levels
    rows: list[tuple[str, str, str, str, str | None]] = []
    community_code: list[str] = []
    for c in communities:
        street = streets[c.parent].seq
        code = f"{county_code}{street:03d}{c.seq:03d}"
        community_code.append(code)
        rows.append(
            (
                code,
                f"{street_name(county_code, street)}第{c.seq}社区",
                "community",
                "ordinary",
                None,
            )
        )
    zone_code = [f"{community_code[z.parent]}{z.seq:02d}" for z in zones]
    for z, code in zip(zones, zone_code, strict=True):
        rows.append((code, f"第{z.seq}片区", "zone", "ordinary", community_code[z.parent]))
    dedicated = rng.random(len(micros)) < _DEDICATED_SHARE
    facility = rng.integers(0, len(FACILITIES), len(micros))
    for m, special, f in zip(micros, dedicated, facility, strict=True):
        name = f"第{zones[m.parent].seq}片区第{m.seq:02d}微网格"
        if special:
            name += f"（{FACILITIES[f]}）"
        kind = "dedicated" if special else "ordinary"
        rows.append((f"{zone_code[m.parent]}{m.seq:03d}", name, "micro", kind, zone_code[m.parent]))
    frame = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["code", "name", "level", "kind", "parent_code"]),
        geometry=np.concatenate(geoms),
        crs=CGCS2000,
    )
    return frame.sort_values("code", ignore_index=True)
