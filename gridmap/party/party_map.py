"""党建地图: what the chief's party map shows of the communities in a scope — buildings with
their 楼栋长 and 单元长, 党员中心户 with the neighbours they look after, the homes of the
members registered with a community (双报到) with their service posts, and each micro-grid's
coverage (households covered by a member or worker, 党员分片包户).

Rows come back as stored (names and phones plain); the API masks them for the reader.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.storage import buildings as building_store
from gridmap.storage import party_map as store
from gridmap.storage import reports as report_store

#: Buildings read per page while gathering them all (the API's own page size).
_PAGE = 1000


@dataclass(frozen=True)
class PartyMap:
    """The layers of the party map; ``posts`` by building, ``neighbours`` by 中心户 as
    [lon, lat] points, ``coverage`` every micro-grid's (none of its households: rate None)
    with ``shapes`` by micro-grid code."""

    buildings: list[Any]
    posts: dict[int, list[building_store.PostEntry]]
    centrals: list[Any]
    neighbours: dict[int, list[tuple[float, float]]]
    members: list[Any]
    coverage: list[report_store.CoverageRate]
    shapes: dict[str, str]
    revealable: set[int]


def narrowed(scope: Scope, community: str | None) -> Scope:
    """``scope`` limited to ``community`` (a 12-digit code): what both see. A community the
    scope neither holds nor lies in leaves nothing."""
    if community is None:
        return scope
    prefixes = []
    for prefix in scope.prefixes:
        if prefix.startswith(community):
            prefixes.append(prefix)
        elif community.startswith(prefix):
            prefixes.append(community)
    return Scope(tuple(dict.fromkeys(prefixes)))


def layers(session: Session, scope: Scope, on: dt.date, community: str | None = None) -> PartyMap:
    """The party map's layers for ``scope`` (within ``community`` when given) on day ``on``."""
    seen = narrowed(scope, community)
    buildings = _buildings(session, seen)
    centrals = store.centrals(session, seen)
    neighbours: dict[int, list[tuple[float, float]]] = {c.id: [] for c in centrals}
    for row in store.neighbour_points(session, list(neighbours), seen):
        neighbours[row.central_id].append((row.lon, row.lat))
    rates = report_store.coverage_rates(session, seen, None, "micro") if seen.prefixes else []
    by_code = {r["code"]: r for r in rates}
    grids = store.micro_grids(session, seen)
    coverage = [
        by_code.get(g.code)
        or report_store.CoverageRate(code=g.code, name=g.name, households=0, covered=0, rate=None)
        for g in grids
    ]
    posts = building_store.posts(session, [b.id for b in buildings], history=False)
    members = store.member_homes(session, seen, on)
    people = [p["person_id"] for held in posts.values() for p in held]
    people += [c.person_id for c in centrals] + [m.id for m in members]
    return PartyMap(
        buildings=buildings,
        posts=posts,
        centrals=centrals,
        neighbours=neighbours,
        members=members,
        coverage=coverage,
        shapes={g.code: g.geojson for g in grids},
        revealable=store.revealable(session, sorted(set(people)), scope),
    )


def _buildings(session: Session, scope: Scope) -> list[Any]:
    found: list[Any] = []
    after = None
    while True:
        page = building_store.list_buildings(
            session, bbox=None, grid_code=None, limit=_PAGE, after_id=after, scope=scope
        )
        found += page.rows
        if len(page.rows) < _PAGE:
            return found
        after = page.rows[-1].id
