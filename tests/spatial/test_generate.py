"""Invariants of the generated demo grid and population."""

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.demo.shape import DEFAULT, DemoShape
from gridmap.spatial.generate import (
    CARE_TAGS,
    Population,
    generate_grid,
    generate_population,
    reading_order,
)
from gridmap.spatial.locate import locate_points

from .conftest import SMALL_OUTLINE


@pytest.fixture(scope="module")
def population(small_grid: gpd.GeoDataFrame) -> Population:
    return generate_population(small_grid, shape=DEFAULT, seed=3)


def test_grid_counts_and_columns(small_grid):
    assert list(small_grid.columns) == ["code", "name", "level", "kind", "parent_code", "geometry"]
    assert small_grid.crs.to_epsg() == 4490
    counts = small_grid["level"].value_counts()
    assert counts["community"] == 10
    assert 3 * 10 <= counts["zone"] <= 6 * 10
    assert 8 * counts["zone"] <= counts["micro"] <= 14 * counts["zone"]
    assert set(small_grid.geom_type) <= {"Polygon", "MultiPolygon"}


def test_codes_are_shaped_and_extend_their_parent(small_grid):
    length = {"community": 12, "zone": 14, "micro": 17}
    for row in small_grid.itertuples():
        assert re.fullmatch(rf"\d{{{length[row.level]}}}", row.code)
        assert row.code.startswith("110101")
        if row.level == "community":
            assert pd.isna(row.parent_code)
            assert 1 <= int(row.code[6:9]) <= 3  # street digits
        else:
            assert row.code.startswith(row.parent_code)
            assert len(row.parent_code) == length[row.level] - (2 if row.level == "zone" else 3)
    assert small_grid["code"].is_unique


def test_children_tile_their_parent_exactly(small_grid):
    by_code = small_grid.set_index("code").geometry
    for level, prefix in (("zone", 12), ("micro", 14)):
        children = small_grid[small_grid["level"] == level]
        for parent, group in children.groupby(children["code"].str[:prefix]):
            union = shapely.union_all(group.geometry.values)
            assert shapely.symmetric_difference(union, by_code[parent]).area < 1e-12
    # The district is kept up to the snap rounding of new vertices on its edges (1e-7°, ~1 cm).
    communities = shapely.union_all(small_grid[small_grid["level"] == "community"].geometry.values)
    assert shapely.hausdorff_distance(communities, SMALL_OUTLINE) < 1e-7
    assert communities.symmetric_difference(SMALL_OUTLINE).area < SMALL_OUTLINE.length * 1e-7


def _band_order_ok(x, y, bounds, seqs) -> bool:
    rows = max(1, round(np.sqrt(len(x))))
    band = np.clip(np.floor((bounds[3] - y) / (bounds[3] - bounds[1]) * rows), 0, rows - 1)
    order = np.argsort(seqs)
    b, xs = band[order], x[order]
    same_band = b[1:] == b[:-1]
    return bool(np.all(b[1:] >= b[:-1]) and np.all(xs[1:][same_band] > xs[:-1][same_band]))


@pytest.mark.parametrize(("level", "prefix", "digits"), [("zone", 12, 2), ("micro", 14, 3)])
def test_numbering_runs_north_to_south_then_west_to_east(small_grid, level, prefix, digits):
    by_code = small_grid.set_index("code").geometry
    children = small_grid[small_grid["level"] == level]
    for parent, group in children.groupby(children["code"].str[:prefix]):
        seqs = group["code"].str[-digits:].astype(int).to_numpy()
        assert sorted(seqs) == list(range(1, len(seqs) + 1))
        centre = shapely.centroid(group.geometry.values)
        x, y = shapely.get_x(centre), shapely.get_y(centre)
        assert _band_order_ok(x, y, by_code[parent].bounds, seqs)
        if len(seqs) >= 3:  # at least two bands: the first is north of the last
            assert y[np.argmax(seqs)] < y[np.argmin(seqs)]


def test_reading_order_example():
    # Four cells in a 2 x 2 block: NW, NE, SW, SE.
    x = np.array([1.0, 0.0, 1.0, 0.0])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    assert reading_order(x, y, (-0.5, -0.5, 1.5, 1.5)).tolist() == [3, 2, 1, 0]


def test_names_are_chinese_and_dedicated_are_few(small_grid):
    names = small_grid.set_index("code")["name"]
    community = small_grid[small_grid["level"] == "community"]["code"].iloc[0]
    assert re.fullmatch(r"和平里第\d+社区", names[community])
    zone = small_grid[small_grid["level"] == "zone"]["code"].iloc[1]
    assert names[zone] == f"第{int(zone[-2:])}片区"
    micro = small_grid[small_grid["level"] == "micro"]
    assert micro["name"].str.fullmatch(r"第\d+片区第\d{2}微网格(（.+）)?").all()
    dedicated = micro["kind"] == "dedicated"
    assert 0 < dedicated.mean() < 0.1
    assert micro.loc[dedicated, "name"].str.endswith("）").all()
    assert set(small_grid["kind"]) == {"ordinary", "dedicated"}


def test_grid_is_deterministic(small_grid):
    again = generate_grid(SMALL_OUTLINE, communities=10, streets=3, seed=7)
    assert again["code"].tolist() == small_grid["code"].tolist()
    assert all(
        a.equals_exact(b, 0) for a, b in zip(again.geometry, small_grid.geometry, strict=True)
    )
    other = generate_grid(SMALL_OUTLINE, communities=10, streets=3, seed=8)
    assert not other.geometry.iloc[-1].equals(small_grid.geometry.iloc[-1])


def test_grid_vertices_are_on_the_1e7_grid(small_grid):
    coords = shapely.get_coordinates(small_grid.geometry.values)
    assert np.abs(coords * 1e7 - np.round(coords * 1e7)).max() < 1e-3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"communities": 5, "county_code": "1101"},
        {"communities": 5, "streets": 6},
        {"communities": 5, "streets": 0},
        {"communities": 5, "streets": 2, "zones_per_community": (4, 3)},
        {"communities": 5, "streets": 2, "micros_per_zone": (0, 3)},
    ],
)
def test_grid_arguments_are_checked(kwargs):
    with pytest.raises(ValueError):
        generate_grid(SMALL_OUTLINE, **kwargs)


def test_household_counts_and_fields(population, small_grid):
    h = population.households
    zones = (small_grid["level"] == "zone").sum()
    assert 300 * zones <= len(h) <= 500 * zones
    assert h["id"].tolist() == list(range(1, len(h) + 1))
    assert h.crs.to_epsg() == 4490 and (h.geom_type == "Point").all()
    assert h["residents"].between(1, 6).all()
    assert h["address"].str.fullmatch(r"东城区\w+街道\w+第\d+社区\d+号楼\d单元\d+").all()
    assert not h.duplicated(["micro_code", "building", "unit", "room"]).any()
    tags = [t for tags in h["care_tags"] for t in tags]
    assert set(tags) <= set(CARE_TAGS)
    share = (h["care_tags"].str.len() > 0).mean()
    assert 0.02 < share < 0.12
    alone = h["care_tags"].apply(lambda t: "elderly_alone" in t)
    assert (h.loc[alone, "residents"] == 1).all()


def test_households_per_zone_and_micro_are_realistic(population, small_grid):
    """Micro-grids of 20–50 households (a building or a few), none empty; zones of 300–500."""
    micro = small_grid.loc[small_grid["level"] == "micro", "code"]
    per_micro = population.households.groupby("micro_code").size().reindex(micro, fill_value=0)
    assert per_micro.between(20, 50).all()
    assert 30 <= per_micro.median() <= 40
    per_zone = population.households.groupby(population.households["micro_code"].str[:14]).size()
    assert len(per_zone) == (small_grid["level"] == "zone").sum()
    assert per_zone.between(300, 500).all()
    assert population.communities == sorted(
        small_grid.loc[small_grid["level"] == "community", "code"]
    )


def test_households_limit_populates_whole_communities_in_code_order(small_grid):
    few = generate_population(small_grid, shape=DEFAULT, households=2000, seed=3)
    communities = sorted(small_grid.loc[small_grid["level"] == "community", "code"])
    assert few.communities == communities[: len(few.communities)] and few.communities
    per_community = few.households.groupby(few.households["micro_code"].str[:12]).size()
    assert per_community.sum() >= 2000 > per_community.iloc[:-1].sum()
    assert sorted(per_community.index) == few.communities
    staffed = few.assignments["grid_code"].str[:12]
    assert set(staffed) == set(few.communities)


def test_spread_households_places_an_exact_count_by_area(small_grid):
    spread = generate_population(small_grid, shape=DEFAULT, spread_households=5000, seed=3)
    assert len(spread.households) == 5000
    per_micro = spread.households.groupby("micro_code").size()
    micro = small_grid[small_grid["level"] == "micro"].set_index("code")
    dedicated = per_micro.reindex(micro.index[micro["kind"] == "dedicated"]).fillna(0)
    assert dedicated.median() < per_micro.median() / 5  # schools and parks hold few homes
    with pytest.raises(ValueError, match="not both"):
        generate_population(small_grid, shape=DEFAULT, households=1, spread_households=1)


def test_the_shape_refuses_impossible_knobs():
    with pytest.raises(ValueError, match="households_per_micro"):
        DemoShape(households_per_micro=(50, 20))
    with pytest.raises(ValueError, match="cover_kinds"):
        DemoShape(cover_kinds=(("party_member", 0.5),))


def test_every_household_is_inside_its_micro_grid(population, small_grid):
    h = population.households
    micro = small_grid[small_grid["level"] == "micro"].reset_index(drop=True)
    found = locate_points(h.geometry.x, h.geometry.y, np.arange(len(micro)), micro.geometry.values)
    assert (found >= 0).all()
    assert (micro["code"].to_numpy()[found] == h["micro_code"].to_numpy()).all()
    geoms = micro.set_index("code").geometry.reindex(h["micro_code"]).to_numpy()
    assert shapely.contains(geoms, h.geometry.to_numpy()).all()  # strictly, not on an edge


def test_households_of_a_building_are_close_together(population):
    h = population.households
    building = h["address"].str.extract(r"^(.*号楼)")[0]
    x, y = h.geometry.x.to_numpy(), h.geometry.y.to_numpy()
    spread_x = pd.Series(x).groupby(building.to_numpy()).agg(lambda s: s.max() - s.min())
    spread_y = pd.Series(y).groupby(building.to_numpy()).agg(lambda s: s.max() - s.min())
    assert (spread_x * 85_000).max() < 21 and (spread_y * 111_000).max() < 21


def test_people_and_assignments(population, small_grid):
    people, a = population.people, population.assignments
    assert people["id"].tolist() == list(range(1, len(people) + 1))
    assert people["phone"].str.fullmatch(r"1[3-9]\d{9}").all() and people["phone"].is_unique
    assert set(people["kind"]) == {
        "party_member",
        "grid_worker",
        "volunteer",
        "building_leader",
        "in_service_member",
    }
    assert people["home_community_code"].isin(small_grid["code"]).all()
    assert set(a["person_id"]) <= set(people["id"])
    levels = small_grid.set_index("code")["level"]
    for role, level in (("chief", "community"), ("zone_leader", "zone"), ("grid_worker", "micro")):
        mine = a[a["role"] == role]
        assert (levels[mine["grid_code"]] == level).all()
        assert sorted(mine["grid_code"]) == sorted(
            small_grid.loc[small_grid["level"] == level, "code"]
        )
    # One full-time worker (专职网格员) per zone, posted to every micro-grid of it.
    workers = a[a["role"] == "grid_worker"]
    kinds = people.set_index("id")["kind"]
    assert (kinds[workers["person_id"]] == "grid_worker").all()
    zones_of = workers.groupby("person_id")["grid_code"].agg(lambda c: set(c.str[:14]))
    assert (zones_of.str.len() == 1).all()
    assert len(zones_of) == (levels == "zone").sum()
    # A building leader (楼栋长, a volunteer) per building, posted to its micro-grid.
    leaders = a[a["role"] == "building_leader"]
    assert (levels[leaders["grid_code"]] == "micro").all()
    assert set(leaders["grid_code"]) == set(small_grid.loc[small_grid["level"] == "micro", "code"])
    assert set(kinds[leaders["person_id"]]) == {"building_leader", "party_member", "volunteer"}
    h = population.households
    buildings = h.drop_duplicates(["micro_code", "building"])
    assert len(leaders) == len(buildings)
    home = people.set_index("id").loc[leaders["person_id"], "home_household_id"].to_numpy()
    lived = h.set_index("id").loc[home, ["micro_code", "building"]]
    assert (lived["micro_code"].to_numpy() == leaders["grid_code"].to_numpy()).all()


def test_coverage_leaves_three_to_five_percent_uncovered(population):
    h, cov, people = population.households, population.coverage, population.people
    assert cov["household_id"].is_unique
    uncovered = ~h["id"].isin(cov["household_id"])
    assert 0.03 <= uncovered.mean() <= 0.05
    care = h["care_tags"].str.len() > 0
    assert (uncovered & care).sum() > 0
    kinds = people.set_index("id")["kind"]
    assert set(kinds[cov["person_id"].unique()]) == {"party_member", "in_service_member"}
    load = cov.groupby("person_id").size()
    assert load.between(5, 15).all() and 7 <= load.median() <= 11
    # 党员中心户: a member lives in the first household of the run they look after.
    homes = population.people.set_index("id").loc[load.index, "home_household_id"]
    assert (homes.to_numpy() == cov.groupby("person_id")["household_id"].min().to_numpy()).all()


def test_members_cover_households_of_their_own_zone(population):
    h = population.households.set_index("id")
    cov = population.coverage
    zone = h.loc[cov["household_id"], "micro_code"].str[:14].to_numpy()
    zones_per_member = pd.Series(zone).groupby(cov["person_id"].to_numpy()).nunique()
    assert (zones_per_member == 1).all()
    home = population.people.set_index("id").loc[cov["person_id"], "home_community_code"]
    assert (home.to_numpy() == np.array([z[:12] for z in zone])).all()


def test_population_is_deterministic(small_grid, population):
    again = generate_population(small_grid, shape=DEFAULT, seed=3)
    assert again.households.drop(columns="geometry").equals(
        population.households.drop(columns="geometry")
    )
    assert again.coverage.equals(population.coverage)
    assert again.people.equals(population.people)
