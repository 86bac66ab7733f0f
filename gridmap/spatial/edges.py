"""Edges that grids share (共边): snapping what a surveyor meant to share, and telling a sliver
of digitising noise from a real gap or overlap.

A grid file is drawn polygon by polygon. Where a child's corner sits on a straight edge of its
parent or of a sibling (a T-junction), the edge has no vertex there, and the corner, rounded to
6 decimals or converted from GCJ-02, lands a few centimetres off it. Overlaid, the two
boundaries then enclose slivers kilometres long and centimetres wide. :func:`snap_vertices`
moves such vertices onto the edge they sit on and inserts them into that edge, so the edge is
shared exactly; :func:`sliver_mask` decides by width and area, in metres, what is left over.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

__all__ = ["Snapped", "sliver_mask", "snap_vertices"]

#: Metres per degree of latitude (and, at most, of longitude).
_M_PER_DEGREE = 111_320.0
#: A vertex this close to an edge is on it (metres), for inserting it there.
_ON_EDGE_M = 0.001


@dataclass(frozen=True)
class Snapped:
    """What :func:`snap_vertices` did.

    Attributes
    ----------
    geoms : ndarray of shapely geometries
        The geometries after snapping (lon/lat), in the input's order.
    moved : ndarray of int
        Per geometry, how many of its vertices moved or were added.
    shift_m : ndarray of float
        Per geometry, the largest move of one of its vertices, in metres (0 when none moved).
    where : ndarray of float, shape (n, 2)
        Per geometry, the lon/lat of that largest move (NaN when none moved).
    """

    geoms: NDArray[np.object_]
    moved: NDArray[np.int64]
    shift_m: NDArray[np.float64]
    where: NDArray[np.float64]


def snap_vertices(
    geoms: NDArray[np.object_],
    rank: NDArray[np.int64],
    movable: NDArray[np.bool_],
    tolerance_m: float,
) -> Snapped:
    """Snap vertices within ``tolerance_m`` onto their neighbours' edges, and share those edges.

    Parameters
    ----------
    geoms : ndarray of shapely (Multi)Polygons
        Valid lon/lat (EPSG:4490) geometries.
    rank : ndarray of int
        The level of each geometry (0 community, 1 zone, 2 micro-grid): a vertex only moves
        onto the edge of a geometry of a lower rank than every geometry it belongs to, i.e. a
        child's corner onto its parent's (or an ancestor's) edge, never the other way round.
        Siblings are not snapped to each other: in a clean partition a sibling's node may lie
        within the tolerance of another's edge on purpose, and what remains between siblings
        is at most the tolerance wide, which :func:`sliver_mask` discounts.
    movable : ndarray of bool
        Geometries that may change; the others (stored grids) are references only.
    tolerance_m : float
        Largest move, in metres. 0 changes nothing.

    Returns
    -------
    Snapped

    Notes
    -----
    Two vectorised steps. First every distinct vertex that lies within the tolerance of a
    stronger geometry's boundary, without being one of its vertices, moves to the nearest point
    of that boundary (``STRtree`` query with ``dwithin``, ``shortest_line``). Then each movable
    geometry is ``shapely.snap``-ed, with a millimetre tolerance, to the vertices now lying on
    its edges, which inserts its children's corners into its own edges (and into those of a
    neighbour sharing the edge). A geometry that snapping would make invalid keeps its
    first-step shape, or its original one.
    """
    n = len(geoms)
    zero = Snapped(geoms, np.zeros(n, np.int64), np.zeros(n), np.full((n, 2), np.nan))
    if tolerance_m <= 0 or n == 0:
        return zero
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    uniq, inverse = np.unique(coords, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    # Edges are straight in lon/lat (as PostGIS stores them), not in a map projection, where a
    # corner exactly on a 2 km meridian edge would seem centimetres off it. So distances are
    # taken in lon/lat scaled to metres at the data's latitude: an affine map keeps straight
    # edges straight, and is within 1 % of true metres across a city, enough for a tolerance.
    scale = _metres_per_degree(float(np.mean(uniq[:, 1])))
    metric = uniq * scale
    boundaries = shapely.boundary(shapely.transform(geoms, lambda c: metric[inverse]))
    moved_xy, moved = _moves(metric, inverse, owner, rank, movable, boundaries, tolerance_m)
    new_uniq = uniq.copy()
    if moved.any():
        new_uniq[moved] = moved_xy[moved] / scale
    first = shapely.transform(geoms, lambda c: new_uniq[inverse])
    first = np.where(movable & shapely.is_valid(first), first, geoms)
    # Only moved vertices are inserted: a corner already exactly on an edge is left alone.
    points = np.full(len(metric), None, dtype=object)
    points[moved] = shapely.points(moved_xy[moved])
    second = _share_edges(first, movable, boundaries, points, new_uniq, tolerance_m)
    shift = np.hypot(*(moved_xy - metric).T)
    return _summary(geoms, second, owner, inverse, shift, new_uniq)


def _moves(
    metric: NDArray[np.float64],
    inverse: NDArray[np.intp],
    owner: NDArray[np.intp],
    rank: NDArray[np.int64],
    movable: NDArray[np.bool_],
    boundaries: NDArray[np.object_],
    tolerance_m: float,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Where each distinct vertex goes (metric xy), and which ones move."""
    n_points, n = len(metric), len(boundaries)
    best = np.full(n_points, np.iinfo(np.int64).max)
    np.minimum.at(best, inverse, rank[owner])
    fixed = np.zeros(n_points, dtype=bool)
    np.logical_or.at(fixed, inverse, ~movable[owner])
    points = shapely.points(metric)
    p, g = shapely.STRtree(boundaries).query(points, predicate="dwithin", distance=tolerance_m)
    own = np.unique(inverse.astype(np.int64) * n + owner)
    keep = (rank[g] < best[p]) & ~fixed[p] & ~np.isin(p.astype(np.int64) * n + g, own)
    p, g = p[keep], g[keep]
    distance = shapely.distance(points[p], boundaries[g])
    keep = distance > _ON_EDGE_M
    p, g, distance = p[keep], g[keep], distance[keep]
    # One target per vertex: the strongest geometry, then the nearest edge.
    order = np.lexsort((distance, rank[g], p))
    first = order[np.r_[True, p[order][1:] != p[order][:-1]]] if p.size else order
    targets = shapely.get_coordinates(
        shapely.get_point(shapely.shortest_line(points[p[first]], boundaries[g[first]]), 1)
    )
    out = metric.copy()
    out[p[first]] = targets
    moved = np.zeros(n_points, dtype=bool)
    moved[p[first]] = True
    return out, moved


def _share_edges(
    geoms: NDArray[np.object_],
    movable: NDArray[np.bool_],
    boundaries: NDArray[np.object_],
    points: NDArray[np.object_],
    lonlat: NDArray[np.float64],
    tolerance_m: float,
) -> NDArray[np.object_]:
    """Insert the moved vertices (``points``, None where not moved) lying on each movable
    geometry's edges into those edges."""
    # Metric boundaries are the pre-move ones: a vertex moved at most the tolerance, hence 2x.
    # The snap itself only takes what lies on an edge (1 mm): moves were decided in step one.
    g, p = shapely.STRtree(points).query(boundaries, predicate="dwithin", distance=2 * tolerance_m)
    keep = movable[g]
    g, p = g[keep], p[keep]
    if g.size == 0:
        return geoms
    order = np.argsort(g, kind="stable")
    g, p = g[order], p[order]
    targets = np.unique(g)
    reference = shapely.multipoints(lonlat[p], indices=np.searchsorted(targets, g))
    tolerance_deg = _ON_EDGE_M / float(np.min(_metres_per_degree(float(np.mean(lonlat[:, 1])))))
    snapped = shapely.snap(geoms[targets], reference, tolerance_deg)
    ok = shapely.is_valid(snapped) & ~shapely.is_empty(snapped)
    out = geoms.copy()
    out[targets[ok]] = snapped[ok]
    return out


def _summary(
    before: NDArray[np.object_],
    after: NDArray[np.object_],
    owner: NDArray[np.intp],
    inverse: NDArray[np.intp],
    shift: NDArray[np.float64],
    lonlat: NDArray[np.float64],
) -> Snapped:
    n = len(before)
    changed = np.zeros(n, dtype=np.int64)
    np.add.at(changed, owner, (shift[inverse] > 0).astype(np.int64))
    added = shapely.get_num_coordinates(after) - shapely.get_num_coordinates(before)
    changed += np.maximum(added, 0)
    unchanged = shapely.equals_exact(before, after, tolerance=0.0)
    changed[unchanged] = 0
    largest = np.zeros(n)
    np.maximum.at(largest, owner, shift[inverse])
    where = np.full((n, 2), np.nan)
    if shift.size:
        vertex_shift = shift[inverse]
        order = np.lexsort((-vertex_shift, owner))
        head = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
        where[owner[head]] = lonlat[inverse[head]]
    largest[unchanged] = 0.0
    where[unchanged | (largest == 0)] = np.nan
    return Snapped(after, changed, largest, where)


def _metres_per_degree(lat: float) -> NDArray[np.float64]:
    """Metres per degree of longitude and of latitude near ``lat`` (spherical, within 0.5 %)."""
    return np.array([_M_PER_DEGREE * np.cos(np.radians(lat)), _M_PER_DEGREE])


def sliver_mask(parts: NDArray[np.object_], *, width_m: float, area_m2: float) -> NDArray[np.bool_]:
    """Which metric polygons are digitising noise: at most ``area_m2``, or at most ``width_m``
    wide (no disc of that diameter fits inside, tested by an inward buffer).

    A T-junction sliver of a 5 km edge is thousands of square metres but millimetres wide; a
    real 5 m² gap is metres wide. Both thresholds are in metres, so ``parts`` must be projected.
    """
    small: NDArray[np.bool_] = shapely.area(parts) <= area_m2
    if width_m > 0:
        thin = shapely.is_empty(shapely.buffer(parts, -width_m / 2, quad_segs=4))
        small = small | thin
    return small
