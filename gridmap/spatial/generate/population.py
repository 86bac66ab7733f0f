"""The demo population: households in buildings inside the micro-grids, the people who serve
them, their posts and the households each covers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmap.spatial.crs import CGCS2000
from gridmap.spatial.generate.grid import (
    CARE_RATES,
    CARE_TAGS,
    RESIDENT_SHARES,
    FloatArray,
    county_name,
    street_name,
)


class PopulationShape(Protocol):
    """What the generator reads of a demo's shape (:class:`gridmap.demo.shape.DemoShape`
    documents each knob and holds the defaults); ranges are inclusive."""

    @property
    def households_per_micro(self) -> tuple[int, int]: ...
    @property
    def households_per_zone(self) -> tuple[int, int]: ...
    @property
    def households_per_building(self) -> tuple[int, int]: ...
    @property
    def households_per_member(self) -> tuple[int, int]: ...
    @property
    def uncovered_share(self) -> float: ...
    @property
    def cover_kinds(self) -> tuple[tuple[str, float], ...]: ...
    @property
    def leader_kinds(self) -> tuple[tuple[str, float], ...]: ...


@dataclass
class Population:
    """A generated population over a grid.

    Attributes
    ----------
    households : GeoDataFrame
        id (1..n), address, building, unit, room, residents (1..6), care_tags (list of
        :data:`CARE_TAGS`), micro_code, geometry (Point, EPSG:4490, inside its micro-grid).
    people : DataFrame
        id, name, phone, kind ('party_member' | 'grid_worker' | 'volunteer' |
        'building_leader' | 'in_service_member'), home_community_code, home_household_id
        (the household the person lives in, or <NA>: members live in the first household they
        cover, building leaders in their building).
    assignments : DataFrame
        person_id, grid_code, role ('chief' | 'zone_leader' | 'grid_worker' | 'building_leader').
    coverage : DataFrame
        person_id, household_id (党员分片包户; a few percent of households left out on purpose).
    communities : list of str
        Codes of the communities populated (all of the grid's, or the first ones when
        ``households`` limits the size); only their grids are staffed.
    """

    households: gpd.GeoDataFrame
    people: pd.DataFrame
    assignments: pd.DataFrame
    coverage: pd.DataFrame
    communities: list[str]


_SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
_GIVEN = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志文斌辉鹏宇浩然欣怡子涵梓萱雨桐"
    "俊杰晨阳思远嘉怡佳琪淑珍凤兰德福秋菊海燕立新振华玉梅春生金凤"
)
_MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "176",
    "177",
    "185",
    "186",
    "187",
    "188",
    "199",
)


def generate_population(
    grid: gpd.GeoDataFrame,
    *,
    shape: PopulationShape,
    households: int | None = None,
    spread_households: int | None = None,
    seed: int = 0,
) -> Population:
    """Generate households, the people serving them, their posts and who covers whom.

    Parameters
    ----------
    grid : GeoDataFrame
        A grid as made by :func:`generate_grid` (code, name, level, kind, geometry in EPSG:4490);
        the hierarchy is read from the code prefixes, ``parent_code`` is not needed.
    shape : PopulationShape
        The knobs (:class:`gridmap.demo.shape.DemoShape`): households per micro-grid, zone,
        building and covering member, the share left uncovered, who covers and who leads.
    households : int, optional
        Populate whole communities, in code order, until they hold at least this many
        households; the rest of the grid stays unpopulated and unstaffed (see
        ``Population.communities``). Default: every community.
    spread_households : int, optional
        For benchmarks that need a set density: place exactly this many households over all
        micro-grids in proportion to area times a random density (dedicated ones get 2 % of
        that), instead of the shape's per-zone and per-micro-grid counts; micro-grids may then
        be empty or crowded. Excludes ``households``.
    seed : int
        Seed of the random generator.

    Returns
    -------
    Population
        See :class:`Population`. Each zone gets a total in ``shape.households_per_zone``
        (narrowed to what its micro-grids can hold), split among its micro-grids within
        ``shape.households_per_micro``; households are grouped into buildings and placed within
        10 m of their building, always strictly inside their micro-grid. Posts: a chief per
        community, a zone leader and one full-time grid worker per zone (posted to each of its
        micro-grids), a building leader per building. Covering members take runs of
        ``shape.households_per_member`` neighbouring households of one zone; a share of
        households, care households more often, is left uncovered.
    """
    if households is not None and spread_households is not None:
        raise ValueError("give households or spread_households, not both")
    if (households is not None and households < 1) or (
        spread_households is not None and spread_households < 0
    ):
        raise ValueError("households must be >= 1 and spread_households >= 0")
    rng = np.random.default_rng(seed)
    micro = grid[grid["level"] == "micro"].sort_values("code", ignore_index=True)
    if micro.empty:
        raise ValueError("the grid has no micro-grids to place households in")
    geoms = np.asarray(micro.geometry.values, dtype=object)
    shapely.prepare(geoms)
    if spread_households is not None:
        counts = rng.multinomial(spread_households, _micro_weights(micro, geoms, rng))
    else:
        counts = _realistic_counts(micro["code"].to_numpy(), shape, rng)
    communities = _populated(micro["code"].to_numpy(), counts, households)
    keep = micro["code"].str[:12].isin(communities).to_numpy()
    micro, geoms, counts = micro[keep].reset_index(drop=True), geoms[keep], counts[keep]
    grid = grid[grid["code"].str[:12].isin(communities)]
    buildings = _buildings(micro, geoms, counts, shape.households_per_building, rng)
    house = _households(grid, micro, geoms, buildings, rng)
    people = _People()
    assignments = _posts(grid, micro, buildings, people, shape, rng)
    coverage = _coverage(house, people, shape, rng)
    return Population(
        households=house,
        people=people.frame(rng),
        assignments=assignments,
        coverage=coverage,
        communities=communities,
    )


def _populated(
    codes: NDArray[np.object_], counts: NDArray[np.int64], households: int | None
) -> list[str]:
    """The communities to populate: all, or the first ones holding ``households``."""
    community = pd.Series(counts).groupby(np.array([c[:12] for c in codes])).sum().sort_index()
    codes_in_order: list[str] = [str(code) for code in community.index]
    if households is None:
        return codes_in_order
    enough = int(np.searchsorted(community.cumsum().to_numpy(), households)) + 1
    return codes_in_order[:enough]


def _realistic_counts(
    codes: NDArray[np.object_], shape: PopulationShape, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Households per micro-grid: a total per zone, split among its micro-grids."""
    (zone_lo, zone_hi), (lo, hi) = shape.households_per_zone, shape.households_per_micro
    zone = np.array([c[:14] for c in codes])
    starts = np.r_[0, np.flatnonzero(zone[1:] != zone[:-1]) + 1, len(codes)]
    counts = np.empty(len(codes), dtype=np.int64)
    for a, b in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
        m = b - a
        low, high = max(zone_lo, m * lo), min(zone_hi, m * hi)
        # A zone whose micro-grids cannot hold a total in range gets the nearest total they can.
        total = (
            int(rng.integers(low, high + 1)) if low <= high else (low if m * lo > zone_hi else high)
        )
        counts[a:b] = _split(total, m, lo, hi, rng)
    return counts


def _split(total: int, parts: int, lo: int, hi: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """``total`` cut at random into ``parts`` integers, each in [lo, hi] when that is possible."""
    if total < parts * lo or total > parts * hi:
        base = np.full(parts, total // parts, dtype=np.int64)
        base[: total % parts] += 1
        return base
    room = hi - lo
    extra = rng.multinomial(total - parts * lo, np.full(parts, 1 / parts)).astype(np.int64)
    while (over := extra > room).any():
        excess = int((extra[over] - room).sum())
        extra[over] = room
        free = extra < room
        extra += rng.multinomial(excess, free / free.sum())
    return lo + extra


def _runs(n: int, lo: int, hi: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """Sizes of consecutive runs cutting ``n`` items, each in [lo, hi] (one run if n < lo)."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    fewest, most = -(-n // hi), max(-(-n // hi), n // lo)
    # Runs of one zone are of similar size, around a typical size drawn in [lo, hi].
    parts = int(np.clip(np.rint(n / rng.uniform(lo, hi)), fewest, most))
    return _split(n, parts, lo, hi, rng)


def _micro_weights(
    micro: gpd.GeoDataFrame, geoms: NDArray[np.object_], rng: np.random.Generator
) -> FloatArray:
    lat = shapely.get_y(shapely.centroid(geoms))
    area = shapely.area(geoms) * np.cos(np.radians(lat))  # degrees² → proportional to m²
    density = rng.gamma(4.0, 0.25, len(micro))  # some blocks are denser than others
    dedicated = (micro["kind"] == "dedicated").to_numpy()
    weights = area * density * np.where(dedicated, 0.02, 1.0)
    shares: FloatArray = weights / weights.sum()
    return shares


@dataclass
class _Buildings:
    """Buildings (楼栋): micro-grid, point, units and number within the community."""

    micro: NDArray[np.intp]
    x: FloatArray
    y: FloatArray
    units: NDArray[np.int64]
    number: NDArray[np.int64]
    of_household: NDArray[np.intp]  # building index of each household, households sorted


def _buildings(
    micro: gpd.GeoDataFrame,
    geoms: NDArray[np.object_],
    counts: NDArray[np.int64],
    per_building: tuple[int, int],
    rng: np.random.Generator,
) -> _Buildings:
    size = rng.integers(per_building[0], per_building[1] + 1, len(micro))  # target sizes
    n_buildings = np.where(counts > 0, np.maximum(1, np.rint(counts / size)), 0).astype(np.int64)
    building_micro = np.repeat(np.arange(len(micro)), n_buildings)
    x, y = _points_in(geoms[building_micro], rng)
    first = np.cumsum(n_buildings) - n_buildings
    house_micro = np.repeat(np.arange(len(micro)), counts)
    local = (rng.random(house_micro.size) * n_buildings[house_micro]).astype(np.int64)
    of_household = np.sort(first[house_micro] + local)  # households listed building by building
    community = micro["code"].str[:12].to_numpy()[building_micro]
    # Number buildings 1.. within each community, in code order of their micro-grid.
    starts = np.r_[0, np.flatnonzero(community[1:] != community[:-1]) + 1]
    run = np.zeros(building_micro.size, dtype=np.int64)
    run[starts] = starts
    number = np.arange(building_micro.size) - np.maximum.accumulate(run) + 1
    units = rng.integers(1, 5, building_micro.size)
    return _Buildings(building_micro, x, y, units, number, of_household)


def _points_in(
    polygons: NDArray[np.object_], rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """One random point strictly inside each (prepared) polygon, all polygons at once."""
    x = np.empty(len(polygons))
    y = np.empty(len(polygons))
    todo = np.arange(len(polygons))
    bounds = shapely.bounds(polygons)
    for _ in range(60):
        if todo.size == 0:
            return x, y
        b = bounds[todo]
        tx, ty = rng.uniform(b[:, 0], b[:, 2]), rng.uniform(b[:, 1], b[:, 3])
        inside = shapely.contains_xy(polygons[todo], tx, ty)
        x[todo[inside]], y[todo[inside]] = tx[inside], ty[inside]
        todo = todo[~inside]
    # Thin slivers that sampling keeps missing: fall back to a guaranteed interior point.
    fallback = shapely.point_on_surface(polygons[todo])
    x[todo], y[todo] = shapely.get_x(fallback), shapely.get_y(fallback)
    return x, y


def _jitter_inside(
    bx: FloatArray, by: FloatArray, polygons: NDArray[np.object_], rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Points within 10 m of their building, redrawn closer until inside their micro-grid."""
    x, y = bx.copy(), by.copy()
    todo = np.arange(bx.size)
    radius = 10.0
    while todo.size and radius > 0.1:
        r = radius * np.sqrt(rng.random(todo.size))
        angle = rng.uniform(0, 2 * np.pi, todo.size)
        metres_per_degree = 111_320.0
        tx = bx[todo] + r * np.cos(angle) / (metres_per_degree * np.cos(np.radians(by[todo])))
        ty = by[todo] + r * np.sin(angle) / metres_per_degree
        inside = shapely.contains_xy(polygons[todo], tx, ty)
        x[todo[inside]], y[todo[inside]] = tx[inside], ty[inside]
        todo = todo[~inside]
        radius /= 2
    return x, y  # the rest stay on their building point, which is inside


def _households(
    grid: gpd.GeoDataFrame,
    micro: gpd.GeoDataFrame,
    geoms: NDArray[np.object_],
    b: _Buildings,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    n = b.of_household.size
    building = b.of_household
    house_micro = b.micro[building]
    x, y = _jitter_inside(b.x[building], b.y[building], geoms[house_micro], rng)
    # Rank of each household within its building gives unit, floor and room (2 per floor).
    starts = np.searchsorted(building, building)
    rank = np.arange(n) - starts
    units = b.units[building]
    unit = rank % units + 1
    within = rank // units
    room = (within // 2 + 1) * 100 + within % 2 + 1
    prefix = _address_prefixes(grid, micro["code"].to_numpy())[house_micro]
    number = b.number[building]
    address = [
        f"{p}{k}号楼{u}单元{r}" for p, k, u, r in zip(prefix, number, unit, room, strict=True)
    ]
    residents = rng.choice(np.arange(1, 7), size=n, p=RESIDENT_SHARES)
    tags = _care_tags(n, rng)
    residents[np.array(["elderly_alone" in t for t in tags], dtype=bool)] = 1
    return gpd.GeoDataFrame(
        {
            "id": np.arange(1, n + 1, dtype=np.int64),
            "address": address,
            "building": number,
            "unit": unit,
            "room": room,
            "residents": residents,
            "care_tags": tags,
            "micro_code": micro["code"].to_numpy()[house_micro],
        },
        geometry=shapely.points(x, y),
        crs=CGCS2000,
    )


def _address_prefixes(
    grid: gpd.GeoDataFrame, micro_codes: NDArray[np.object_]
) -> NDArray[np.object_]:
    """'东城区和平里街道和平里第3社区' for each micro-grid, from its community's code and name."""
    names = dict(zip(grid["code"], grid["name"], strict=False))
    out = []
    for code in micro_codes:
        county, street, community = code[:6], int(code[6:9]), code[:12]
        out.append(
            f"{county_name(county)}{street_name(county, street)}街道"
            f"{names.get(community, community)}"
        )
    return np.array(out, dtype=object)


def _care_tags(n: int, rng: np.random.Generator) -> list[list[str]]:
    draws = rng.random((n, len(CARE_TAGS))) < np.array(CARE_RATES)
    # A left-behind child lives with grandparents: not a household of one elderly person alone.
    draws[:, 3] &= ~draws[:, 0]
    tags: list[list[str]] = [[] for _ in range(n)]
    rows, cols = np.nonzero(draws)
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        tags[r].append(CARE_TAGS[c])
    return tags


class _People:
    """People as they are created; ids are 1.. in creation order."""

    def __init__(self) -> None:
        self.kind: list[str] = []
        self.home: list[str] = []
        self.home_household: list[int] = []

    def add(self, kind: str, home_community: str, home_household: int = -1) -> int:
        """A new person's id; ``home_household`` is a household id (-1: not known)."""
        self.kind.append(kind)
        self.home.append(home_community)
        self.home_household.append(home_household)
        return len(self.kind)

    def frame(self, rng: np.random.Generator) -> pd.DataFrame:
        n = len(self.kind)
        surname = rng.integers(0, len(_SURNAMES), n)
        given = rng.integers(0, len(_GIVEN), (n, 2))
        two = rng.random(n) < 0.7
        names = [
            _SURNAMES[s] + _GIVEN[g[0]] + (_GIVEN[g[1]] if t else "")
            for s, g, t in zip(surname, given, two, strict=True)
        ]
        home = pd.Series(self.home_household, dtype="Int64")
        return pd.DataFrame(
            {
                "id": np.arange(1, n + 1, dtype=np.int64),
                "name": names,
                "phone": _phones(n, rng),
                "kind": self.kind,
                "home_community_code": self.home,
                "home_household_id": home.where(home > 0, pd.NA).array,
            }
        )


def _phones(n: int, rng: np.random.Generator) -> list[str]:
    """Distinct 11-digit mobile numbers."""
    prefix = rng.integers(0, len(_MOBILE_PREFIXES), n)
    number = rng.integers(0, 10**8, n)
    full = prefix * 10**8 + number
    while True:  # collisions are rare; redraw them until none is left
        _, first = np.unique(full, return_index=True)
        dup = np.setdiff1d(np.arange(n), first)
        if dup.size == 0:
            break
        full[dup] = prefix[dup] * 10**8 + rng.integers(0, 10**8, dup.size)
    return [f"{_MOBILE_PREFIXES[v // 10**8]}{v % 10**8:08d}" for v in full.tolist()]


def _posts(
    grid: gpd.GeoDataFrame,
    micro: gpd.GeoDataFrame,
    buildings: _Buildings,
    people: _People,
    shape: PopulationShape,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """A chief per community; per zone a leader and one full-time grid worker (专职网格员)
    posted to each of its micro-grids; a building leader (楼栋长) per building."""
    rows: list[tuple[int, str, str]] = []
    for code in sorted(grid.loc[grid["level"] == "community", "code"]):
        rows.append((people.add("party_member", code), code, "chief"))
    codes = micro["code"].to_numpy()
    zone_of = np.array([c[:14] for c in codes])
    for code in sorted(grid.loc[grid["level"] == "zone", "code"]):
        rows.append((people.add("party_member", code[:12]), code, "zone_leader"))
        worker = people.add("grid_worker", code[:12])
        rows += [(worker, m, "grid_worker") for m in codes[zone_of == code].tolist()]
    kinds, shares = zip(*shape.leader_kinds, strict=True)
    size = np.bincount(buildings.of_household, minlength=buildings.micro.size)
    first = np.searchsorted(buildings.of_household, np.arange(buildings.micro.size)) + 1
    leader_kind = rng.choice(len(kinds), size=buildings.micro.size, p=shares)
    for k in np.flatnonzero(size > 0).tolist():
        code = codes[buildings.micro[k]]
        leader = people.add(kinds[leader_kind[k]], code[:12], int(first[k]))
        rows.append((leader, code, "building_leader"))
    return pd.DataFrame(rows, columns=["person_id", "grid_code", "role"])


def _coverage(
    house: gpd.GeoDataFrame, people: _People, shape: PopulationShape, rng: np.random.Generator
) -> pd.DataFrame:
    """Members of each zone take runs of neighbouring households, building by building, and
    live in the first one (党员中心户); a share is left uncovered."""
    n = len(house)
    care = np.array([bool(t) for t in house["care_tags"]], dtype=bool)
    # Exponential keys over weights pick a weighted sample without replacement in one sort;
    # care households are three times as likely to have been missed, as in real audits.
    keys = rng.exponential(size=n) / np.where(care, 3.0, 1.0)
    uncovered = np.zeros(n, dtype=bool)
    uncovered[np.argsort(keys)[: round(shape.uncovered_share * n)]] = True
    covered = np.flatnonzero(~uncovered)  # already in building order within micro-grids
    ids = house["id"].to_numpy()[covered]
    zone = house["micro_code"].str[:14].to_numpy()[covered]
    bounds = np.r_[0, np.flatnonzero(zone[1:] != zone[:-1]) + 1, covered.size]
    lo, hi = shape.households_per_member
    kinds, shares = zip(*shape.cover_kinds, strict=True)
    kind = rng.choice(len(kinds), size=covered.size // lo + len(bounds), p=shares)
    person = np.empty(covered.size, dtype=np.int64)
    k = 0
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        start = a
        for run in _runs(b - a, lo, hi, rng).tolist():
            person[start : start + run] = people.add(kinds[kind[k]], zone[a][:12], int(ids[start]))
            start, k = start + run, k + 1
    return pd.DataFrame({"person_id": person, "household_id": ids})
