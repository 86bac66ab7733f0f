"""The demo: Beijing Dongcheng's committed three-level grid and a generated population, shaped
by the knobs of :mod:`gridmap.demo.shape`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from gridmap.access import accounts
from gridmap.core import clock, glossary
from gridmap.core.settings import Settings
from gridmap.demo import lists, party
from gridmap.demo.shape import DEFAULT, DemoShape
from gridmap.grid import ingest
from gridmap.onenet import layers as onenet_layers
from gridmap.onenet import overlay
from gridmap.party import buildings as party_buildings
from gridmap.patrols import service as patrols
from gridmap.requests import service as requests
from gridmap.services import circles, network
from gridmap.services import sites as service_sites
from gridmap.spatial.generate import Population, generate_population
from gridmap.spatial.generate.department_grid import department_grid
from gridmap.spatial.generate.streets import synthetic_sites, synthetic_streets
from gridmap.storage import departments as storage_departments
from gridmap.storage import requests as storage_requests
from gridmap.storage.models import Grid

BOUNDARIES = Path(__file__).resolve().parents[2] / "data" / "boundaries"
GRID_FILE = BOUNDARIES / "dongcheng_grid.geojson"


def has_data(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(Grid.id.isnot(None)))))


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(str).replace({"None": "", "nan": ""})


def load(
    session: Session,
    *,
    seed: int,
    settings: Settings,
    households: int | None = None,
    shape: DemoShape = DEFAULT,
    progress: ingest.Progress[Any] = iter,
    grid_file: Path = GRID_FILE,
) -> list[ingest.ImportReport]:
    """Import the committed grid, a population generated over it with ``shape``, the
    district's departments, and one demo account per role and per department in
    :data:`DEPARTMENT_ACCOUNTS` (password ``settings.demo_password``).

    ``households`` overrides ``shape.households``: whole communities, in code order, until
    they hold at least that many (``None``: the whole district). Only the communities
    populated are imported, so every micro-grid has households.
    """
    if households is not None:
        shape = dataclasses.replace(shape, households=households)
    grid = pyogrio.read_dataframe(grid_file)
    population = generate_population(grid, shape=shape, households=shape.households, seed=seed)
    grid = grid[grid["code"].str[:12].isin(population.communities)]
    reports = [ingest.import_grids(session, grid, "EPSG:4490", settings)]
    reports.append(
        ingest.import_households(session, population.households, "EPSG:4490", progress=progress)
    )
    people = with_homes(population)
    reports.append(ingest.import_people(session, _as_text(people), "EPSG:4490"))
    reports.append(ingest.import_assignments(session, _as_text(population.assignments)))
    reports.append(ingest.import_coverage(session, _as_text(population.coverage)))
    # Statistics of the rows just written, for the joins below (and again before the
    # walking network's): with a table's statistics stale, a district's households were joined
    # to the people's homes by nested loops for many minutes. ANALYZE covers the tables the
    # role owns; for the app role it does nothing.
    session.execute(text("ANALYZE"))
    reports.append(seed_buildings(session, settings))
    reports.append(seed_departments(session))
    reports.append(create_demo_accounts(session, population, settings.demo_password))
    reports.append(seed_categories(session))
    reports.append(patrols.seed_work_lists(session))
    reports.append(party.load(session, seed=seed, password=settings.demo_password))
    reports.append(lists.load(session, seed=seed))
    session.execute(text("ANALYZE"))
    reports.append(seed_service_map(session, grid, shape, seed=seed, settings=settings))
    reports.append(seed_department_grid(session, grid, seed=seed, settings=settings))
    return reports


def seed_buildings(session: Session, settings: Settings) -> ingest.ImportReport:
    """Buildings and units from the generated blocks' households, their 楼栋长 and 单元长, and
    a 党员中心户 per building (:func:`gridmap.party.buildings.seed_demo`)."""
    start = clock.today().replace(month=1, day=1)
    counts = party_buildings.seed_demo(
        session, start=start, limit=settings.central_household_neighbours
    )
    report = ingest.ImportReport("buildings", written=counts["buildings"])
    report.notes.append(", ".join(f"{k}: {v}" for k, v in counts.items()))
    return report


def seed_service_map(
    session: Session, grid: gpd.GeoDataFrame, shape: DemoShape, *, seed: int, settings: Settings
) -> ingest.ImportReport:
    """The synthetic walking network and service sites of the demo (``spatial.generate.
    streets``), and their walking circles computed."""
    micro = grid[grid["level"] == "micro"]
    lines = [(None, shapely.to_wkb(line)) for line in synthetic_streets(micro.geometry)]
    network.import_network(session, lines, "synthetic")
    names = dict(zip(grid["code"], grid["name"], strict=True))
    sites = synthetic_sites(
        micro,
        names=names,
        labels=glossary.SITE_KINDS,
        centre_share=shape.service_centre_share,
        seed=seed,
    )
    report = service_sites.import_sites(session, sites, "EPSG:4490")
    circles.refresh(session, settings)
    return report


#: The demo's other-department layer, named as a street office would, marked as made up.
DEMO_LAYER_NAME = "派出所警格（演示，合成数据）"


def seed_department_grid(
    session: Session, grid: gpd.GeoDataFrame, *, seed: int, settings: Settings
) -> ingest.ImportReport:
    """A synthetic police grid over the demo's zones (``spatial.generate.department_grid``),
    imported as a street administrator would and its 一张网 overlay computed."""
    zones = grid[grid["level"] == "zone"]
    cells = department_grid(zones, max(6, len(zones)), shift_m=3.0, seed=seed)
    spec = onenet_layers.LayerSpec(DEMO_LAYER_NAME, "police", "zone")
    layer_id, _ = onenet_layers.import_layer(
        session,
        cells,
        "EPSG:4490",
        spec,
        settings,
        filename="demo-police.gpkg",
        scope_code=None,
        user_id=None,
    )
    overlay.compute(session, layer_id, overlay.Rule.of(settings))
    return ingest.ImportReport("foreign_layer", written=len(cells))


def with_homes(population: Population) -> pd.DataFrame:
    """People with a home: members and building leaders where the generator put them (the
    first household a member covers, a household of the leader's building); anyone else at
    a household of their community (members are residents, 双报到)."""
    houses = population.households
    lon, lat = houses.geometry.x.to_numpy(), houses.geometry.y.to_numpy()
    position = pd.Series(range(len(houses)), index=houses["id"].to_numpy())
    community = houses["micro_code"].str[:12].to_numpy()
    by_community = pd.Series(range(len(houses))).groupby(community).agg(list)
    people = population.people.drop(columns="home_household_id")
    homes = population.people["home_household_id"]
    picks = []
    for person_id, code, home in zip(
        people["id"], people["home_community_code"], homes, strict=True
    ):
        if not pd.isna(home):
            picks.append(position[home])
        elif code in by_community.index:
            options = by_community[code]
            picks.append(options[int(person_id) % len(options)])
        else:
            picks.append(-1)
    chosen = np.array(picks)
    people["home_lon"] = np.where(chosen >= 0, lon[chosen], np.nan)
    people["home_lat"] = np.where(chosen >= 0, lat[chosen], np.nan)
    return people


def demo_accounts(population: Population) -> list[tuple[str, str, str | None, int | None]]:
    """(username, role, scope code, person id) of the demo accounts, all in one community,
    and a verifier (核查回访员) per street: ``demo-verifier`` in the demo street, and
    ``demo-verifier-NNN`` (the street code's last three digits) in each other one."""
    assignments = population.assignments
    workers = assignments[assignments["role"] == "grid_worker"].sort_values("grid_code")
    micro, worker = workers.iloc[0]["grid_code"], int(workers.iloc[0]["person_id"])
    zone, community = micro[:14], micro[:12]
    in_zone = population.households.loc[
        population.households["micro_code"].str.startswith(zone), "id"
    ]
    covering = population.coverage[population.coverage["household_id"].isin(in_zone)]
    member = int(covering["person_id"].min())
    streets = sorted(set(population.households["micro_code"].str[:9]) - {community[:9]})
    verifiers = [(f"demo-verifier-{s[-3:]}", "verifier", s, None) for s in streets]
    return [
        ("demo-street", "street_admin", community[:9], None),
        ("demo-chief", "chief", community, None),
        ("demo-zone", "zone_leader", zone, None),
        ("demo-worker", "grid_worker", micro, worker),
        ("demo-member", "member", None, member),
        ("demo-auditor", "auditor", community[:6], None),
        ("demo-verifier", "verifier", community[:9], None),
        *verifiers,
        ("demo-system", "system_admin", None, None),
        ("demo-security", "security_admin", None, None),
        ("demo-audit", "audit_admin", None, None),
    ]


#: The demo district's departments (职能部门, Dongcheng 110101): code, name, kind, the area
#: served. The request generator summons five of them (``CategoryModel.department``).
DEPARTMENTS: tuple[tuple[str, str, str, str], ...] = (
    ("dc.cgzf", "东城区城管执法局", "城管", "110101"),
    ("dc.cgw", "东城区城市管理委员会", "城管", "110101"),
    ("dc.zjw", "东城区住房和城市建设委员会", "住建", "110101"),
    ("dc.scjg", "东城区市场监督管理局", "市场监管", "110101"),
    ("dc.gr", "东城区供热服务中心", "供热", "110101"),
    ("dc.sw", "东城区水务局", "水务", "110101"),
    ("dc.gs", "北京市自来水集团东城营业所", "供水", "110101"),
)
#: One demo account per department: username → department code.
DEPARTMENT_ACCOUNTS: tuple[tuple[str, str], ...] = (
    ("demo-dept-cgzf", "dc.cgzf"),
    ("demo-dept-cgw", "dc.cgw"),
    ("demo-dept-zjw", "dc.zjw"),
    ("demo-dept-sw", "dc.sw"),
)


def seed_departments(session: Session) -> ingest.ImportReport:
    """The demo district's departments (those already recorded are left as they are)."""
    written = 0
    for code, name, kind, scope in DEPARTMENTS:
        values = {"code": code, "name": name, "kind": kind, "scope_code": scope}
        written += storage_departments.add_department(session, values) is not None
    return ingest.ImportReport("departments", written=written)


def create_demo_accounts(
    session: Session, population: Population, password: str
) -> ingest.ImportReport:
    accounts_made = demo_accounts(population)
    for username, role, scope, person in accounts_made:
        user = accounts.create_user(session, username, password)
        accounts.grant_role(
            session, user.id, role, scope_code=scope, person_id=person, admins_too=True
        )
    for username, code in DEPARTMENT_ACCOUNTS:
        user = accounts.create_user(session, username, password)
        department = storage_departments.id_of(session, code)
        accounts.grant_role(session, user.id, "department", department_id=department)
    made = len(accounts_made) + len(DEPARTMENT_ACCOUNTS)
    return ingest.ImportReport("demo accounts", written=made)


def _limits(response: str, handling: str, feedback: str) -> dict[str, dict[str, Any]]:
    """``"2h"``/``"3d"`` per stage → ``{stage: {amount, unit, basis}}``; a trailing ``"c"``
    (``"1hc"``) counts the stage in clock time, else in working time."""
    unit = {"h": "hours", "d": "days"}
    return {
        stage: {
            "amount": int(text.rstrip("c")[:-1]),
            "unit": unit[text.rstrip("c")[-1]],
            "basis": "clock" if text.endswith("c") else "working",
        }
        for stage, text in (("response", response), ("handling", handling), ("feedback", feedback))
    }


#: The category catalogue (诉求类别): city-management event classes (GB/T 30428 family) and
#: community services, with the level that handles each by default and its time limits per
#: stage (响应 response, 处置 handling, 回访 feedback) in hours or days. Emergencies and
#: utilities (safety hazards, flooding, water, heating) are answered and handled in clock time
#: (``c``), nights, weekends and holidays included, as 12345 and 数字城管 count them; their
#: 回访 call and everything else count working time. Local rules differ: these are plausible
#: defaults for a demo, to be edited by each city.
CATEGORIES: tuple[tuple[str, str, str, str, dict[str, dict[str, Any]]], ...] = (
    ("sanitation.garbage", "暴露垃圾、垃圾满溢", "市容环境", "micro", _limits("2h", "1d", "3d")),
    ("sanitation.graffiti", "乱涂乱画", "市容环境", "micro", _limits("4h", "2d", "3d")),
    ("ads.flyer", "非法小广告", "宣传广告", "micro", _limits("4h", "1d", "3d")),
    ("ads.billboard", "违规户外广告设施", "宣传广告", "street", _limits("1d", "5d", "3d")),
    ("construction.noise", "施工扰民", "施工管理", "community", _limits("2h", "2d", "3d")),
    ("construction.debris", "渣土遗撒", "施工管理", "street", _limits("2h", "1d", "3d")),
    ("emergency.hazard", "安全隐患", "突发事件", "community", _limits("1hc", "4hc", "1d")),
    ("emergency.flooding", "积水内涝", "突发事件", "street", _limits("1hc", "7hc", "1d")),
    ("street.vendor", "占道经营", "街面秩序", "micro", _limits("2h", "1d", "3d")),
    ("street.parking", "乱停乱放", "街面秩序", "micro", _limits("2h", "1d", "3d")),
    ("neighbour.dispute", "邻里纠纷", "邻里纠纷", "micro", _limits("1d", "5d", "3d")),
    ("elderly.care", "独居老人照料", "养老服务", "micro", _limits("2h", "2d", "3d")),
    ("property.repair", "物业维修", "物业管理", "community", _limits("4h", "5d", "3d")),
    ("utility.water", "停水、供水问题", "水电气暖", "street", _limits("2hc", "1dc", "3d")),
    ("utility.heating", "供暖不热", "水电气暖", "street", _limits("4hc", "2dc", "3d")),
)


def seed_categories(session: Session) -> ingest.ImportReport:
    """Add the catalogue's categories that are missing (existing ones are left as edited)."""
    added = 0
    for code, name, event_class, level, limits in CATEGORIES:
        values = {
            "code": code,
            "name": name,
            "event_class": event_class,
            "default_level": level,
            "time_limits": requests.check_time_limits(limits),
        }
        added += storage_requests.add_category(session, values)
    return ingest.ImportReport("request categories", written=added)
