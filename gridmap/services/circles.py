"""The walking circles (15分钟服务圈): computing them, with every household's walk and the
candidate sites, and reading the gaps per community and micro-grid.

:func:`refresh` rewrites the cache in one transaction (how a walk is measured:
``gridmap.storage.service_map``). The candidate analysis is the greedy answer to maximal
coverage on the network: among candidate nodes (one per ~200 m cell of uncovered households,
the node nearest to them), take the one whose last-band circle would bring the most uncovered
households, count those as covered, and take the next, ``service_candidates`` times.
Greedy is within 1 − 1/e of the best choice of that many sites (Nemhauser, Wolsey and Fisher,
1978) and is what planners can follow by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core import clock
from gridmap.core.settings import Settings
from gridmap.storage import service_map

#: Candidate nodes tried at most (the cells with most uncovered households first).
CANDIDATE_POOL = 300


def band_metres(settings: Settings) -> list[tuple[int, float]]:
    """The bands as (minutes, metres walked at ``walking_speed_mps``)."""
    return [(m, m * 60 * settings.walking_speed_mps) for m in settings.walking_minutes]


def covered_metres(settings: Settings) -> float:
    """A household is covered when it walks at most this far to a site (the last band)."""
    return band_metres(settings)[-1][1]


def refresh(session: Session, settings: Settings) -> dict[str, Any]:
    """Compute the circles, every household's walk and the candidate sites anew."""
    bands = band_metres(settings)
    metres = bands[-1][1]
    access = settings.service_access_m
    service_map.clear_results(session)
    starts = service_map.start_sites(session, access)
    service_map.reach_sites(session, starts, metres)
    service_map.write_isochrones(session, bands)
    service_map.write_reach(session, access)
    pool = service_map.candidate_pool(session, metres, access, CANDIDATE_POOL)
    cover = service_map.candidate_cover(session, pool, metres, access)
    picks = greedy(cover, settings.service_candidates)
    service_map.write_candidates(session, picks)
    service_map.finish(session, settings.walking_speed_mps, clock.now())
    return {"sites_on_network": len(starts), "candidates": [n for _, n in picks]}


def greedy(cover: dict[int, set[int]], count: int) -> list[tuple[int, int]]:
    """Maximal coverage, greedily: (candidate, households it newly covers), best first; ties
    go to the lower candidate id; stops when no candidate adds anyone."""
    left = {c: set(h) for c, h in cover.items()}
    picks: list[tuple[int, int]] = []
    while left and len(picks) < count:
        best = min(left, key=lambda c: (-len(left[c]), c))
        gained = left.pop(best)
        if not gained:
            break
        picks.append((best, len(gained)))
        for households in left.values():
            households -= gained
    return picks


@dataclass(frozen=True)
class Gaps:
    """Households and uncovered households per micro-grid and per community, in scope."""

    micro_grids: list[dict[str, Any]]
    communities: list[dict[str, Any]]


def gaps(
    session: Session,
    scope: Scope,
    settings: Settings,
    *,
    grid: str | None = None,
    shapes: bool = False,
) -> Gaps:
    """The figures of the gap table in ``scope`` under ``grid`` (and the micro-grids' shapes
    for the gap map)."""
    metres = covered_metres(settings)
    rows = service_map.gap_rows(session, scope, grid, metres, shapes=shapes)
    micro: list[dict[str, Any]] = []
    communities: dict[str, dict[str, Any]] = {}
    for row in rows:
        item = {
            "code": row.code,
            "name": row.name,
            "community_code": row.community_code,
            "households": row.households,
            "uncovered": row.uncovered,
        }
        if shapes:
            item["geometry"] = row.geometry
        micro.append(item)
        total = communities.setdefault(
            row.community_code,
            {"code": row.community_code, "name": row.community_name, "households": 0,
             "uncovered": 0},
        )  # fmt: skip
        total["households"] += row.households
        total["uncovered"] += row.uncovered
    return Gaps(micro, sorted(communities.values(), key=lambda c: str(c["code"])))


def gap_features(found: Gaps) -> list[dict[str, Any]]:
    """The gap map: each micro-grid with its households, uncovered ones and their share."""
    return [
        {
            "type": "Feature",
            "id": row["code"],
            "geometry": json.loads(row["geometry"]),
            "properties": {
                key: row[key] for key in ("code", "name", "community_code", "households")
            }
            | {
                "uncovered": row["uncovered"],
                "share": round(row["uncovered"] / row["households"], 4) if row["households"] else 0,
            },
        }
        for row in found.micro_grids
    ]


def describe(session: Session, settings: Settings) -> dict[str, Any]:
    """When the cache was computed (and whether sites or network changed since), the network's
    figures, and the bands and speed the page's legend names."""
    found = service_map.state(session)
    return {
        "refreshed_at": found.refreshed_at.isoformat() if found.refreshed_at else None,
        "stale": found.stale,
        "speed_mps": found.speed_mps if found.speed_mps is not None else settings.walking_speed_mps,
        "minutes": list(settings.walking_minutes),
        "nodes": found.nodes,
        "edges": found.edges,
        "components": found.components,
        "detached_nodes": found.detached_nodes,
    }
