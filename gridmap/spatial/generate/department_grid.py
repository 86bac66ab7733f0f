"""The demo's other-department grid (一张网): synthetic, documented as such.

Another department's grid (e.g. the police's 警格) agrees with ours in places and not in
others. The demo draws one over a set of our units: a third of them shifted by a few metres
(they align within the tolerance), the rest of the area cut into Voronoi cells seeded at
random (they split ours). Seeded, so the demo is repeatable; the 一张网 benchmark draws its
2,000-cell layer the same way. It is not any department's real grid.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely


def department_grid(
    ours: gpd.GeoDataFrame, cells: int, *, shift_m: float, seed: int
) -> gpd.GeoDataFrame:
    """``cells`` cells (codes ``W00000``…) over the area of ``ours`` (polygons in degrees):
    ``cells // 3`` of ours shifted ``shift_m`` east, the rest of the area as Voronoi cells."""
    rng = np.random.default_rng(seed)
    kept = rng.choice(len(ours), size=cells // 3, replace=False)
    dx = shift_m / (111_320 * np.cos(np.radians(ours.geometry.iloc[0].centroid.y)))
    same = [shapely.affinity.translate(g, xoff=dx) for g in ours.geometry.iloc[kept]]
    area = shapely.union_all(ours.geometry.to_numpy())
    rest = area.difference(shapely.union_all(same)).buffer(0)
    wanted = cells - len(same)
    x0, y0, x1, y1 = rest.bounds
    seeds: list[shapely.Point] = []
    while len(seeds) < wanted:
        points = shapely.points(rng.uniform(x0, x1, wanted * 3), rng.uniform(y0, y1, wanted * 3))
        seeds += list(points[shapely.contains(rest, points)])
    voronoi = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds[:wanted]), extend_to=rest)
    )
    pieces = [p for p in shapely.intersection(voronoi, rest) if not p.is_empty and p.area > 1e-9]
    polygons = [_areal(shapely.make_valid(p)) for p in same + pieces]
    return gpd.GeoDataFrame(
        {"code": [f"W{i:05d}" for i in range(len(polygons))]}, geometry=polygons, crs=ours.crs
    )


def _areal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of ``geom`` (an intersection may leave lines and points besides)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
