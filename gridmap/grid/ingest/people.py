"""Imports of people, their posts (assignments) and the households they cover."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Text,
    any_,
    insert,
    select,
)
from sqlalchemy.orm import Session

from gridmap.core import glossary
from gridmap.core.errors import InvalidInput
from gridmap.grid.ingest.common import ImportReport, reject, require_columns
from gridmap.grid.ingest.households import (
    coordinate_problems,
    driver_connection,
    flag,
    numbers,
    sync_sequence,
)
from gridmap.grid.ingest.readers import canonical_columns
from gridmap.spatial.crs import (
    parse_crs,
    to_cgcs2000,
)
from gridmap.storage.grids import current_at
from gridmap.storage.models import (
    PERSON_KINDS,
    ROLES,
    SRID,
    Assignment,
    Grid,
    Household,
    Person,
)
from gridmap.storage.sql import as_array

#: People file headers (see the README's Import section).
PEOPLE_ALIASES: Mapping[str, tuple[str, ...]] = {
    "id": ("id", "编号", "人员编号"),
    "name": ("name", "姓名"),
    "phone": ("phone", "mobile", "tel", "电话", "手机", "手机号", "手机号码", "联系电话"),
    "kind": ("kind", "类别", "人员类别", "身份"),
    "home_community_code": ("home_community_code", "社区编码", "所属社区编码", "居住社区编码"),
    "home_lon": ("home_lon", "居住经度", "经度", "lon", "lng", "longitude", "x"),
    "home_lat": ("home_lat", "居住纬度", "纬度", "lat", "latitude", "y"),
}
#: Assignment file headers.
ASSIGNMENT_ALIASES: Mapping[str, tuple[str, ...]] = {
    "person_id": ("person_id", "人员编号", "人员id"),
    "grid_code": ("grid_code", "网格编码", "网格代码"),
    "role": ("role", "岗位", "角色"),
    "start_date": ("start_date", "开始日期", "起始日期", "任职日期"),
    "end_date": ("end_date", "结束日期", "离任日期"),
}
#: Coverage file headers.
COVERAGE_ALIASES: Mapping[str, tuple[str, ...]] = {
    "person_id": ("person_id", "人员编号", "人员id", "党员编号"),
    "household_id": ("household_id", "户编号", "住户编号"),
}
_KIND_OF_LABEL = {label: code for code, label in glossary.PERSON_KINDS.items()}
_ROLE_OF_LABEL = {label: code for code, label in glossary.GRID_ROLES.items()}


def _codes_to_ids(session: Session, codes: Iterable[str]) -> dict[str, int]:
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    stmt = select(Grid.code, Grid.id).where(Grid.code == any_(as_array(wanted, Text)), current_at())
    return {code: grid_id for code, grid_id in session.execute(stmt)}


def _homes(frame: pd.DataFrame, crs_text: str | None) -> tuple[list[Any], list[dict[str, Any]]]:
    """Home points (EWKT or None) from optional ``home_lon``/``home_lat`` columns, and the
    problems of the rows whose home is not a point in China."""
    if "home_lon" not in frame.columns:
        return [None] * len(frame), []
    if not crs_text:
        raise InvalidInput(
            "people file: declare the coordinate system of home_lon/home_lat (--crs)"
        )
    given = (frame["home_lon"] != "") | (frame["home_lat"] != "")
    rows = pd.DataFrame({"lon": numbers(frame["home_lon"]), "lat": numbers(frame["home_lat"])})
    finite = given & np.isfinite(rows["lon"]) & np.isfinite(rows["lat"])
    if finite.any():
        lon, lat = to_cgcs2000(
            rows.loc[finite, "lon"].to_numpy(),
            rows.loc[finite, "lat"].to_numpy(),
            parse_crs(crs_text),
        )
        rows.loc[finite, "lon"], rows.loc[finite, "lat"] = lon, lat
    problems = coordinate_problems(rows[given])
    points = [
        f"SRID={SRID};POINT({x!r} {y!r})" if g else None
        for x, y, g in zip(rows["lon"], rows["lat"], given, strict=True)
    ]
    return points, problems


def import_people(
    session: Session, frame: pd.DataFrame, crs_text: str | None = None
) -> ImportReport:
    """People from a CSV: id (optional), name, phone, kind, home_community_code, and where
    they live (``home_lon``, ``home_lat`` in the declared ``crs_text``) when known."""
    frame = canonical_columns(frame, PEOPLE_ALIASES, "people file")
    require_columns(frame, ("name", "kind"), "people file")
    frame = frame.assign(kind=frame["kind"].replace(_KIND_OF_LABEL))
    frame = frame.fillna("").reindex(
        columns=[*frame.columns, *{"id", "phone", "home_community_code"} - set(frame.columns)],
        fill_value="",
    )
    homes, home_problems = _homes(frame, crs_text)
    communities = _codes_to_ids(session, frame["home_community_code"])
    phone_digits = frame["phone"].str.replace(r"[+\-]", "", regex=True)
    home = frame["home_community_code"]
    problems = (
        flag(frame, frame["name"].str.strip() == "", lambda r: "name is empty")
        + flag(
            frame,
            ~frame["kind"].isin(PERSON_KINDS),
            lambda r: f"kind {r['kind']!r} is not one of {list(PERSON_KINDS)}",
        )
        + flag(
            frame,
            (frame["phone"] != "") & ~phone_digits.str.fullmatch(r"\d{5,20}"),
            lambda r: f"phone {r['phone']!r} is not a phone number",
        )
        + flag(
            frame,
            (home != "") & ~home.isin(communities),
            lambda r: f"no current community with code {r['home_community_code']!r}",
        )
        + flag(
            frame,
            (frame["id"] != "") & ~frame["id"].str.fullmatch("[0-9]+"),
            lambda r: f"id {r['id']!r} is not a number",
        )
        + flag(
            frame,
            (frame["id"] != "") & frame["id"].duplicated(keep=False),
            lambda r: f"id {r['id']} appears more than once",
        )
        + home_problems
    )
    if problems:
        raise reject("people file", problems)
    values = [
        {
            **({"id": int(r["id"])} if r["id"] else {}),
            "name": r["name"].strip(),
            "phone": r["phone"] or None,
            "kind": r["kind"],
            "home_community_id": communities.get(r["home_community_code"]),
            "home": home,
        }
        for r, home in zip(frame.to_dict("records"), homes, strict=True)
    ]
    if values:
        session.execute(insert(Person), values)
    sync_sequence(session, "person")
    return ImportReport("people", written=len(values))


def import_assignments(session: Session, frame: pd.DataFrame) -> ImportReport:
    """Assignments from a CSV: person_id, grid_code, role, start_date, end_date (optional)."""
    frame = canonical_columns(frame, ASSIGNMENT_ALIASES, "assignment file")
    require_columns(frame, ("person_id", "grid_code", "role"), "assignment file")
    frame = frame.fillna("")
    frame = frame.assign(role=frame["role"].replace(_ROLE_OF_LABEL))
    grid_ids = _codes_to_ids(session, frame["grid_code"])
    person_ids = _existing_ids(session, Person, frame["person_id"])
    problems = (
        flag(
            frame,
            ~frame["role"].isin(ROLES),
            lambda r: f"role {r['role']!r} is not one of {list(ROLES)}",
        )
        + flag(
            frame,
            ~frame["grid_code"].isin(grid_ids),
            lambda r: f"no current grid with code {r['grid_code']!r}",
        )
        + flag(
            frame,
            ~frame["person_id"].isin(person_ids),
            lambda r: f"no person with id {r['person_id']!r}",
        )
    )
    if problems:
        raise reject("assignment file", problems)
    values = [
        {
            "person_id": int(r["person_id"]),
            "grid_id": grid_ids[r["grid_code"]],
            "role": r["role"],
            **({"start_date": r["start_date"]} if r.get("start_date") else {}),
            **({"end_date": r["end_date"]} if r.get("end_date") else {}),
        }
        for r in frame.to_dict("records")
    ]
    if values:
        session.execute(insert(Assignment), values)
    return ImportReport("assignments", written=len(values))


def _existing_ids(session: Session, model: Any, column: pd.Series) -> set[str]:
    wanted = {int(v) for v in column if str(v).isascii() and str(v).isdigit()}
    if not wanted:
        return set()
    stmt = select(model.id).where(model.id == any_(as_array(wanted, BigInteger)))
    return {str(i) for i in session.scalars(stmt)}


def import_coverage(session: Session, frame: pd.DataFrame) -> ImportReport:
    """Coverage (党员分片包户) from a CSV: person_id, household_id."""
    frame = canonical_columns(frame, COVERAGE_ALIASES, "coverage file")
    require_columns(frame, ("person_id", "household_id"), "coverage file")
    frame = frame.fillna("")
    person_ids = _existing_ids(session, Person, frame["person_id"])
    household_ids = _existing_ids(session, Household, frame["household_id"])
    problems = (
        flag(
            frame,
            ~frame["person_id"].isin(person_ids),
            lambda r: f"no person with id {r['person_id']!r}",
        )
        + flag(
            frame,
            ~frame["household_id"].isin(household_ids),
            lambda r: f"no household with id {r['household_id']!r}",
        )
        + flag(
            frame,
            frame.duplicated(["person_id", "household_id"]),
            lambda r: "the same person and household appear twice",
        )
    )
    if problems:
        raise reject("coverage file", problems)
    raw = driver_connection(session)
    pairs = frame[["person_id", "household_id"]].astype(int).itertuples(index=False)
    with (
        raw.cursor() as cur,
        cur.copy("COPY coverage (person_id, household_id) FROM STDIN") as copy,
    ):
        for pair in pairs:
            copy.write_row(tuple(pair))
    return ImportReport("coverage", written=len(frame))
