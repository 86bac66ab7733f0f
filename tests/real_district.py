"""A three-level grid drawn in GCJ-02 over Xicheng's real outline, the way a surveyor draws one.

Communities are the outline cut by straight lines several kilometres long; zones and micro-grids
are laid like bricks, so that children's corners sit on straight edges of their parent and of
their siblings (T-junctions) without being vertices of them. Coordinates are rounded to 6
decimals, as AMap delivers them. Nothing here is real but the outline.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

OUTLINE_FILE = Path(__file__).resolve().parents[1] / "data" / "boundaries" / "xicheng_gcj02.geojson"
COUNTY = "110102"
DECIMALS = 6
#: Metres per degree of latitude, and of longitude at Xicheng's latitude (39.92N).
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = 111_320.0 * float(np.cos(np.radians(39.92)))


def outline() -> shapely.Geometry:
    """Xicheng district (北京市西城区) as AMap delivers it (GCJ-02)."""
    return gpd.read_file(OUTLINE_FILE).geometry.iloc[0]


def _cuts(lo: float, hi: float, n: int, shift: float) -> NDArray[np.float64]:
    """n + 1 cut positions from lo to hi, the inner ones shifted by ``shift`` of a step."""
    cuts = np.linspace(lo, hi, n + 1)
    cuts[1:-1] += shift * (hi - lo) / n
    return cuts


def _bricks(box: tuple[float, float, float, float], cols: int, rows: int) -> list[shapely.Polygon]:
    """``rows`` bands, each cut in ``cols`` cells, odd bands shifted by a third of a cell."""
    x0, y0, x1, y1 = box
    cells = []
    ys = np.linspace(y1, y0, rows + 1)  # north to south
    for r in range(rows):
        xs = _cuts(x0, x1, cols, 0.33 if r % 2 else 0.0)
        cells += [shapely.box(xs[c], ys[r + 1], xs[c + 1], ys[r]) for c in range(cols)]
    return cells


def _clip(cells: list[shapely.Polygon], within: shapely.Geometry) -> list[shapely.Geometry]:
    parts = shapely.intersection(np.array(cells, dtype=object), within)
    # Keep the areal part of each clip (a clip touching the outline may add a line or point).
    return [
        shapely.union_all(shapely.get_parts(p)[shapely.get_type_id(shapely.get_parts(p)) == 3])
        for p in parts
    ]


def build(
    *,
    communities: tuple[int, int] = (2, 3),
    zones: tuple[int, int] = (2, 2),
    micros: tuple[int, int] = (3, 4),
    min_area_m2: float = 2_000.0,
) -> gpd.GeoDataFrame:
    """The grid file: code, name, level, kind, parent_code and GCJ-02 geometry (6 decimals).

    Communities and zones whose clip by the outline is tiny (under 40 and 10 x ``min_area_m2``)
    are left out with their children: the outline's edge is then the only boundary there.
    """
    district = outline()
    records: list[dict[str, object]] = []
    min_deg2 = min_area_m2 / (M_PER_DEG_LAT * M_PER_DEG_LON)
    bounds = shapely.bounds(district)
    c_cells = _bricks(tuple(bounds), *communities)
    c_geoms = _clip(c_cells, district)
    c_seq = 0
    for c_box, c_geom in zip(c_cells, c_geoms, strict=True):
        if c_geom.is_empty or c_geom.area < 40 * min_deg2:
            continue
        c_seq += 1
        c_code = f"{COUNTY}{c_seq:03d}{1:03d}"
        records.append(_record(c_code, "community", c_geom, None))
        z_cells = _bricks(c_box.bounds, *zones)
        z_geoms = _clip(z_cells, c_geom)
        z_seq = 0
        for z_box, z_geom in zip(z_cells, z_geoms, strict=True):
            if z_geom.is_empty:
                continue
            z_seq += 1
            z_code = f"{c_code}{z_seq:02d}"
            records.append(_record(z_code, "zone", z_geom, c_code))
            m_cells = _bricks(z_box.bounds, *micros)
            # Every piece of the zone goes to a micro-grid, however small: no gap is planted.
            m_geoms = [g for g in _clip(m_cells, z_geom) if not g.is_empty]
            for m_seq, m_geom in enumerate(m_geoms, start=1):
                records.append(_record(f"{z_code}{m_seq:03d}", "micro", m_geom, z_code))
    frame = gpd.GeoDataFrame(records, geometry="geometry")  # no CRS: GCJ-02 is declared
    frame = frame[_complete(frame)].reset_index(drop=True)
    frame["geometry"] = shapely.set_precision(
        frame.geometry.values, 10.0**-DECIMALS, mode="pointwise"
    )
    return frame


def _complete(frame: gpd.GeoDataFrame) -> NDArray[np.bool_]:
    """Drop zones left without micro-grids (a clipped corner that kept none)."""
    has_child = frame["code"].isin(frame["parent_code"].dropna())
    keep: NDArray[np.bool_] = ((frame["level"] == "micro") | has_child).to_numpy()
    return keep


def _record(code: str, level: str, geom: shapely.Geometry, parent: str | None) -> dict[str, object]:
    return {
        "code": code,
        "name": f"西城{code[-5:]}",
        "level": level,
        "kind": "ordinary",
        "parent_code": parent,
        "geometry": geom,
    }


def metres(dx: float, dy: float) -> tuple[float, float]:
    """A displacement in metres as degrees (lon, lat) near Xicheng."""
    return dx / M_PER_DEG_LON, dy / M_PER_DEG_LAT


def t_junctions(frame: gpd.GeoDataFrame) -> int:
    """Corners of children on their parent's boundary that are not vertices of the parent."""
    geoms = dict(zip(frame["code"], frame.geometry, strict=True))
    count = 0
    for child in frame[frame["parent_code"].notna()].itertuples():
        parent = geoms[child.parent_code]
        own = shapely.get_coordinates(child.geometry)
        theirs = {tuple(c) for c in shapely.get_coordinates(parent)}
        on_edge = shapely.distance(shapely.points(own), parent.boundary) < 2e-6
        count += int(
            sum(1 for c, e in zip(map(tuple, own), on_edge, strict=True) if e and c not in theirs)
        )
    return count


def longest_edges_m(frame: gpd.GeoDataFrame, level: str) -> NDArray[np.float64]:
    """Lengths (metres) of the straight segments of one level's boundaries, longest first."""
    geoms = frame.loc[frame["level"] == level, "geometry"].to_numpy()
    rings = shapely.get_rings(shapely.get_parts(geoms))
    coords, owner = shapely.get_coordinates(rings, return_index=True)
    same = owner[1:] == owner[:-1]
    d = np.diff(coords, axis=0)[same] * [M_PER_DEG_LON, M_PER_DEG_LAT]
    return np.sort(np.hypot(d[:, 0], d[:, 1]))[::-1]
