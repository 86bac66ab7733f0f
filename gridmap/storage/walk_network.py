"""Queries of the walking network (步行路网): replacing it, building its topology and checking
that it holds together with pgRouting.

Topology. Streets come as lines (OpenStreetMap ways, a road layer's features) that cross at
shared vertices. A line is cut at its ends and at every vertex another line (or the line
itself, a loop) also passes through, coordinates compared at 1e-7 degree (about 1 cm); each cut
vertex becomes a node. Lines that merely cross without a shared vertex stay apart: a bridge over
a road or a river does not meet it, as in OpenStreetMap. This is what ``pgr_createTopology``
(ends only) and ``pgr_nodeNetwork`` (every crossing, bridges too) do in two halves, done once
and in bulk.

Check. ``pgr_connectedComponents`` numbers the connected pieces; nodes outside the largest
piece are reported as detached (nobody walks there from the rest of the network).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from gridmap.storage.models import ServiceMapState, WalkEdge, WalkNode

#: The edges as pgRouting reads them: every street walkable both ways, cost in metres.
EDGES_SQL = "SELECT id, source, target, length_m AS cost, length_m AS reverse_cost FROM walk_edge"

_STAGE = """
CREATE TEMP TABLE walk_import (
  line serial PRIMARY KEY, name text, geom geometry(LINESTRING, 4490) NOT NULL
) ON COMMIT DROP
"""

_VERTICES = """
CREATE TEMP TABLE walk_vertex ON COMMIT DROP AS
SELECT w.line, d.path[1] AS i,
       round(ST_X(d.geom) * 1e7)::bigint AS kx, round(ST_Y(d.geom) * 1e7)::bigint AS ky,
       d.path[1] = 1 OR d.path[1] = ST_NPoints(w.geom) AS is_end
FROM walk_import w, ST_DumpPoints(w.geom) d
"""

# Cut vertices: the ends of each line and every vertex met more than once.
_CUTS = """
CREATE TEMP TABLE walk_cut ON COMMIT DROP AS
SELECT v.line, v.i, v.kx, v.ky
FROM walk_vertex v
JOIN (SELECT kx, ky FROM walk_vertex GROUP BY kx, ky HAVING count(*) > 1) shared USING (kx, ky)
UNION
SELECT line, i, kx, ky FROM walk_vertex WHERE is_end
"""

_KEYS = """
CREATE TEMP TABLE walk_key ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY kx, ky) AS id, kx, ky
FROM (SELECT DISTINCT kx, ky FROM walk_cut) k
"""

_NODES = """
INSERT INTO walk_node (id, geom)
SELECT id, ST_SetSRID(ST_MakePoint(kx / 1e7, ky / 1e7), 4490) FROM walk_key
"""

_EDGES = """
WITH cuts AS (
  SELECT line, i, kx, ky,
         lead(i) OVER w AS next_i, lead(kx) OVER w AS next_kx, lead(ky) OVER w AS next_ky
  FROM walk_cut WINDOW w AS (PARTITION BY line ORDER BY i)
), pieces AS (
  SELECT c.line, c.kx, c.ky, c.next_kx, c.next_ky,
         ST_RemoveRepeatedPoints(ST_SetSRID(
           ST_MakeLine(array_agg(ST_MakePoint(v.kx / 1e7, v.ky / 1e7) ORDER BY v.i)), 4490
         )) AS geom
  FROM cuts c JOIN walk_vertex v ON v.line = c.line AND v.i BETWEEN c.i AND c.next_i
  WHERE c.next_i IS NOT NULL
  GROUP BY c.line, c.i, c.kx, c.ky, c.next_kx, c.next_ky
)
INSERT INTO walk_edge (source, target, length_m, name, origin, geom)
SELECT a.id, b.id, ST_Length(p.geom::geography), w.name, :origin, p.geom
FROM pieces p
JOIN walk_import w USING (line)
JOIN walk_key a ON a.kx = p.kx AND a.ky = p.ky
JOIN walk_key b ON b.kx = p.next_kx AND b.ky = p.next_ky
WHERE ST_NPoints(p.geom) >= 2 AND ST_Length(p.geom) > 0
"""

_UNUSED_NODES = """
DELETE FROM walk_node n
WHERE NOT EXISTS (SELECT FROM walk_edge e WHERE e.source = n.id OR e.target = n.id)
"""

_COMPONENTS = """
UPDATE walk_node n SET component = c.component
FROM pgr_connectedComponents(:edges) c
WHERE n.id = c.node
"""


@dataclass(frozen=True)
class NetworkCheck:
    """How the network holds together: its size and its connected pieces."""

    nodes: int
    edges: int
    components: int
    #: Nodes outside the largest piece.
    detached_nodes: int
    #: The sizes (in nodes) of the pieces other than the largest, biggest first (at most 20).
    detached_pieces: tuple[int, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "nodes": self.nodes,
            "edges": self.edges,
            "components": self.components,
            "detached_nodes": self.detached_nodes,
            "detached_pieces": list(self.detached_pieces),
        }


def replace_network(
    session: Session, lines: Iterable[tuple[str | None, bytes]], origin: str
) -> int:
    """Replace the whole walking network by ``lines`` (name, WKB of a CGCS2000 line string) and
    build its topology; returns the number of edges. The cached circles stay, marked stale,
    until the next refresh."""
    session.execute(delete(WalkEdge))
    session.execute(delete(WalkNode))
    for name in ("walk_import", "walk_vertex", "walk_cut", "walk_key"):
        session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{name}"))
    session.execute(text(_STAGE))
    rows = [{"name": name, "wkb": wkb} for name, wkb in lines]
    if rows:
        session.execute(
            text("INSERT INTO walk_import (name, geom) VALUES (:name, ST_GeomFromWKB(:wkb, 4490))"),
            rows,
        )
    for statement in (_VERTICES, _CUTS, _KEYS, _NODES):
        session.execute(text(statement))
    session.execute(text(_EDGES), {"origin": origin})
    session.execute(text(_UNUSED_NODES))
    for name in ("walk_import", "walk_vertex", "walk_cut", "walk_key"):
        session.execute(text(f"DROP TABLE {name}"))
    mark_stale(session)
    return int(session.scalar(select(func.count()).select_from(WalkEdge)) or 0)


def check_network(session: Session) -> NetworkCheck:
    """Number the connected pieces (``pgr_connectedComponents``), record the network's figures
    in the service map's state and return them."""
    session.execute(update(WalkNode).values(component=None))
    edges = int(session.scalar(select(func.count()).select_from(WalkEdge)) or 0)
    if edges:
        session.execute(text(_COMPONENTS), {"edges": EDGES_SQL})
    sizes = [
        int(n)
        for n in session.scalars(
            select(func.count())
            .select_from(WalkNode)
            .where(WalkNode.component.is_not(None))
            .group_by(WalkNode.component)
            .order_by(func.count().desc())
        )
    ]
    nodes = int(session.scalar(select(func.count()).select_from(WalkNode)) or 0)
    check = NetworkCheck(
        nodes=nodes,
        edges=edges,
        components=len(sizes),
        detached_nodes=nodes - (sizes[0] if sizes else 0),
        detached_pieces=tuple(sizes[1:21]),
    )
    session.execute(
        update(ServiceMapState)
        .where(ServiceMapState.id == 1)
        .values(
            nodes=check.nodes,
            edges=check.edges,
            components=check.components,
            detached_nodes=check.detached_nodes,
        )
    )
    return check


def mark_stale(session: Session) -> None:
    """Sites or the network changed: the cached circles no longer hold until a refresh."""
    session.execute(update(ServiceMapState).where(ServiceMapState.id == 1).values(stale=True))
