"""The demo's walking network and service sites: synthetic, documented as such.

The committed demo grid has no streets, so the demo draws plausible ones: a street along
every edge of every micro-grid (blocks in Chinese old towns are bounded by hutongs and roads,
and micro-grids follow them) and, through each micro-grid wider than ``through_m``, a lane
across it north–south and one east–west through its middle, cut where they leave the block.
All lines are noded (``shapely.unary_union``): every crossing is a node, so the network is
one connected piece wherever the blocks touch. It is not a survey of real streets.

Sites: a street-level 党群服务中心 in the first community of each street, a community-level
one in a share of the communities, and a few stations, canteens, clinics, day-care centres
and 便民 points, each at a micro-grid's point on surface; seeded, so the demo is repeatable.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString

#: Lanes go through a micro-grid whose bounding box is at least this wide (metres).
THROUGH_M = 120.0
_M_PER_DEGREE = 111_320.0
#: (kind, sites per community on average) of the smaller sites.
SMALL_SITES: tuple[tuple[str, float], ...] = (
    ("station", 0.5),
    ("canteen", 0.4),
    ("clinic", 0.25),
    ("day_care", 0.2),
    ("convenience", 0.8),
)


def synthetic_streets(micro: gpd.GeoSeries, *, through_m: float = THROUGH_M) -> list[LineString]:
    """Street lines (EPSG:4490) along and through the micro-grids ``micro``, noded."""
    edges = shapely.boundary(np.asarray(micro.values, dtype=object))
    lanes = [_lanes(geom, through_m) for geom in micro.values]
    noded = shapely.unary_union(np.concatenate([edges, [g for pair in lanes for g in pair]]))
    merged = shapely.get_parts(noded)
    return [line for line in merged if isinstance(line, LineString) and line.length > 0]


def _lanes(geom: shapely.Geometry, through_m: float) -> list[shapely.Geometry]:
    w, s, e, n = geom.bounds
    lat = (s + n) / 2
    wide = (e - w) * _M_PER_DEGREE * np.cos(np.radians(lat))
    tall = (n - s) * _M_PER_DEGREE
    centre = geom.point_on_surface()
    found = []
    if tall >= through_m:
        found.append(geom.intersection(LineString([(centre.x, s), (centre.x, n)])))
    if wide >= through_m:
        found.append(geom.intersection(LineString([(w, centre.y), (e, centre.y)])))
    return [g for g in found if not g.is_empty]


def synthetic_sites(
    micro: gpd.GeoDataFrame,
    *,
    names: dict[str, str],
    labels: dict[str, str],
    centre_share: float,
    seed: int,
) -> gpd.GeoDataFrame:
    """Service sites over the micro-grids ``micro`` (columns ``code``, ``geometry``), named
    after their community (``names``: community code → name) and kind (``labels``): code,
    name, kind, opening_hours, services and a point, EPSG:4490."""
    rng = np.random.default_rng(seed)
    community = micro["code"].str[:12]
    streets_seen: set[str] = set()
    rows: list[dict[str, object]] = []

    def add(code: str, kind: str, where: str, hours: str, services: str, point: object) -> None:
        name = f"{where}{labels[kind]}"
        rows.append({"code": code, "kind": kind, "name": name, "opening_hours": hours,
                     "services": services, "geometry": point})  # fmt: skip

    for code, cells in micro.groupby(community, sort=True):
        points = cells.geometry.representative_point().to_numpy()
        where = names.get(str(code), str(code))
        if code[:9] not in streets_seen:
            streets_seen.add(code[:9])
            add(f"{code[:9]}-JD", "centre_street", where, "周一至周日 8:30-20:00",
                "政务服务、党员活动、志愿服务", points[0])  # fmt: skip
        if rng.random() < centre_share:
            add(f"{code}-SQ", "centre_community", where, "周一至周五 8:30-17:30",
                "党员活动、居民议事、便民服务", points[rng.integers(len(points))])  # fmt: skip
        for kind, mean in SMALL_SITES:
            for k in range(int(rng.poisson(mean))):
                add(f"{code}-{kind[:2].upper()}{k + 1}", kind, f"{where}{k + 1}号",
                    "每日 9:00-18:00", "", points[rng.integers(len(points))])  # fmt: skip
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4490)
