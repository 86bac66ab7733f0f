"""The demo population: households in buildings inside the micro-grids, the people who serve
them, their posts and the households each covers."""

from __future__ import annotations

from dataclasses import dataclass

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
        'building_leader' | 'in_service_member'), home_community_code.
    assignments : DataFrame
        person_id, grid_code, role ('chief' | 'zone_leader' | 'grid_worker' | 'building_leader').
    coverage : DataFrame
        person_id, household_id (党员分片包户; a few percent of households left out on purpose).
    """

    households: gpd.GeoDataFrame
    people: pd.DataFrame
    assignments: pd.DataFrame
    coverage: pd.DataFrame


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
# Who takes households (党员分片包户): party members mostly, then 双报到 in-service members.
_COVER_KINDS = ("party_member", "in_service_member", "volunteer")
_COVER_SHARES = (0.6, 0.25, 0.15)
_UNCOVERED_SHARE = 0.04


def generate_population(grid: gpd.GeoDataFrame, *, households: int, seed: int = 0) -> Population:
    """Generate households, the people serving them, their posts and who covers whom.

    Parameters
    ----------
    grid : GeoDataFrame
        A grid as made by :func:`generate_grid` (code, name, level, kind, geometry in EPSG:4490);
        the hierarchy is read from the code prefixes, ``parent_code`` is not needed.
    households : int
        How many households to place. Realistic: 300–500 per zone, tens per micro-grid.
    seed : int
        Seed of the random generator.

    Returns
    -------
    Population
        See :class:`Population`. Households are spread over ordinary micro-grids in proportion
        to area times a random density (dedicated ones get 2 % of that), grouped into a few
        buildings per micro-grid and placed within 10 m of their building, always strictly
        inside their micro-grid. About 4 % of households, care households more often, are left
        uncovered, so that the "nobody covers them" report has something to show.
    """
    if households < 0:
        raise ValueError("households must be >= 0")
    rng = np.random.default_rng(seed)
    micro = grid[grid["level"] == "micro"].sort_values("code", ignore_index=True)
    if micro.empty:
        raise ValueError("the grid has no micro-grids to place households in")
    geoms = np.asarray(micro.geometry.values, dtype=object)
    shapely.prepare(geoms)
    counts = rng.multinomial(households, _micro_weights(micro, geoms, rng))
    buildings = _buildings(micro, geoms, counts, rng)
    house = _households(grid, micro, geoms, buildings, rng)
    people = _People()
    assignments = _posts(grid, micro, buildings, people, rng)
    coverage = _coverage(house, micro, people, rng)
    return Population(
        households=house, people=people.frame(rng), assignments=assignments, coverage=coverage
    )


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
    rng: np.random.Generator,
) -> _Buildings:
    size = rng.integers(18, 49, len(micro))  # target households per building
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

    def add(self, kind: str, home_community: str) -> int:
        self.kind.append(kind)
        self.home.append(home_community)
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
        return pd.DataFrame(
            {
                "id": np.arange(1, n + 1, dtype=np.int64),
                "name": names,
                "phone": _phones(n, rng),
                "kind": self.kind,
                "home_community_code": self.home,
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
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Chief per community, leader per zone, worker per 1–2 micro-grids, some building leaders."""
    rows: list[tuple[int, str, str]] = []
    for code in sorted(grid.loc[grid["level"] == "community", "code"]):
        rows.append((people.add("party_member", code), code, "chief"))
    for code in sorted(grid.loc[grid["level"] == "zone", "code"]):
        rows.append((people.add("party_member", code[:12]), code, "zone_leader"))
    codes = micro["code"].tolist()
    doubles = rng.random(len(codes)) < 0.25
    i = 0
    while i < len(codes):
        worker = people.add("grid_worker", codes[i][:12])
        rows.append((worker, codes[i], "grid_worker"))
        # A worker may take the next micro-grid of the same zone too.
        if doubles[i] and i + 1 < len(codes) and codes[i + 1][:14] == codes[i][:14]:
            rows.append((worker, codes[i + 1], "grid_worker"))
            i += 1
        i += 1
    size = np.bincount(buildings.of_household, minlength=buildings.micro.size)
    chosen = np.flatnonzero((size >= 10) & (rng.random(size.size) < 0.3))
    for k in chosen.tolist():
        code = codes[buildings.micro[k]]
        rows.append((people.add("building_leader", code[:12]), code, "building_leader"))
    return pd.DataFrame(rows, columns=["person_id", "grid_code", "role"])


def _coverage(
    house: gpd.GeoDataFrame, micro: gpd.GeoDataFrame, people: _People, rng: np.random.Generator
) -> pd.DataFrame:
    """Members living in each zone take 10–30 of its households; ~4 % are left uncovered."""
    n = len(house)
    care = np.array([bool(t) for t in house["care_tags"]], dtype=bool)
    # Exponential keys over weights pick a weighted sample without replacement in one sort;
    # care households are three times as likely to have been missed, as in real audits.
    keys = rng.exponential(size=n) / np.where(care, 3.0, 1.0)
    uncovered = np.zeros(n, dtype=bool)
    uncovered[np.argsort(keys)[: round(_UNCOVERED_SHARE * n)]] = True
    covered = np.flatnonzero(~uncovered)  # already in building order within micro-grids
    zone = house["micro_code"].str[:14].to_numpy()[covered]
    bounds = np.r_[0, np.flatnonzero(zone[1:] != zone[:-1]) + 1, covered.size]
    person = np.empty(covered.size, dtype=np.int64)
    kinds = rng.choice(len(_COVER_KINDS), size=covered.size // 10 + len(bounds), p=_COVER_SHARES)
    k = 0
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        for start, stop in _chunks(lo, hi, rng):
            person[start:stop] = people.add(_COVER_KINDS[kinds[k]], zone[lo][:12])
            k += 1
    return pd.DataFrame({"person_id": person, "household_id": house["id"].to_numpy()[covered]})


def _chunks(lo: int, hi: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Cut [lo, hi) into runs of 10–30; a short tail joins the run before it."""
    sizes = rng.integers(10, 31, (hi - lo) // 10 + 1)
    edges = np.minimum(lo + np.r_[0, np.cumsum(sizes)], hi)
    edges = np.unique(edges)
    if edges.size > 2 and edges[-1] - edges[-2] < 10:
        edges = np.delete(edges, -2)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))
