"""Redraws on real PostGIS: retire, merge, same-day corrections and the history they leave."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pytest
from shapely.geometry import box
from sqlalchemy import func, select, text

from gridmap.grid import ingest
from gridmap.storage import grids
from gridmap.storage.models import Assignment, Grid, Household
from tests.conftest import COMMUNITY, MID_LAT, MID_LON, S, W, small_grid_frame
from tests.helpers import households_csv, row_counts

ZONE1, MICRO1, MICRO2 = COMMUNITY + "01", COMMUNITY + "01001", COMMUNITY + "01002"


def age(session, days: int = 30) -> dt.date:
    """Make the stored grids and posts ``days`` old; returns the day before today."""
    session.execute(text("UPDATE grid SET valid_from = current_date - :d"), {"d": days})
    session.execute(text("UPDATE assignment SET start_date = current_date - :d"), {"d": days})
    return session.scalar(select(func.current_date())) - dt.timedelta(days=1)


def merge_file(*, retired_geometry: bool = True) -> gpd.GeoDataFrame:
    """Micro-grid 01001 redrawn over the whole west zone, 01002 retired into it."""
    frame = small_grid_frame().iloc[[3, 4]].copy()
    frame["status"] = ["", "retired"]
    frame.loc[frame.index[0], "geometry"] = box(W, S, MID_LON, 39.92)
    if not retired_geometry:
        frame.loc[frame.index[1], "geometry"] = None
    return frame


@pytest.fixture
def west_households(session, small_grid):
    """Household 1 in micro-grid 01001, household 2 in 01002, and a worker posted to 01002."""
    ingest.import_households(
        session,
        households_csv(
            [
                {"id": 1, "lon": 116.405, "lat": 39.915, "address": "甲1号"},
                {"id": 2, "lon": 116.405, "lat": 39.905, "address": "乙2号"},
            ]
        ),
        "EPSG:4326",
    )
    session.execute(text("INSERT INTO person (id, name, kind) VALUES (7, '网格员', 'grid_worker')"))
    session.execute(
        text(
            "INSERT INTO assignment (person_id, grid_id, role)"
            " SELECT 7, id, 'grid_worker' FROM grid WHERE code = :code"
        ),
        {"code": MICRO2},
    )


def versions(session, code: str) -> list[tuple[dt.date, dt.date | None]]:
    stmt = select(Grid.valid_from, Grid.valid_to).where(Grid.code == code).order_by(Grid.id)
    return [tuple(r) for r in session.execute(stmt)]


def micro_of(session, household_id: int) -> str | None:
    return session.scalar(
        select(Grid.code)
        .join(Household, Household.micro_grid_id == Grid.id)
        .where(Household.id == household_id)
    )


def test_merge_retires_moves_households_and_ends_posts(session, settings, west_households):
    yesterday = age(session)
    report = ingest.import_grids(session, merge_file(), "EPSG:4490", settings, redraw=True)
    text_ = report.as_text()
    assert (report.written, report.closed) == (1, 2)
    assert f"1 grid(s) retired: {MICRO2}" in text_
    assert f"households of retired micro-grid {MICRO2} moved: 1 to {MICRO1}" in text_
    assert "1 open post(s) on retired grids ended today" in text_
    assert micro_of(session, 1) == micro_of(session, 2) == MICRO1
    today = yesterday + dt.timedelta(days=1)
    assert versions(session, MICRO2) == [(today - dt.timedelta(days=30), today)]
    ended = session.scalar(select(Assignment.end_date).where(Assignment.person_id == 7))
    assert ended == today
    # The retired grid is history: found on a past day, gone today.
    current = select(Grid.code).where(Grid.code == MICRO2)
    assert session.scalar(current.where(grids.current_at())) is None
    assert session.scalar(current.where(grids.current_at(yesterday))) == MICRO2


def test_retired_row_needs_no_geometry(session, settings, west_households):
    age(session)
    frame = merge_file(retired_geometry=False)
    report = ingest.import_grids(session, frame, "EPSG:4490", settings, redraw=True)
    assert report.closed == 2 and micro_of(session, 2) == MICRO1


@pytest.mark.parametrize(
    ("change", "redraw", "word"),
    [
        # retiring 01002 alone leaves a hole in zone 01
        (lambda f: f.iloc[[1]], True, "leaves a hole"),
        (lambda f: f, False, "needs --redraw"),
        (lambda f: f.assign(status=["", "gone"]), True, "is not one of"),
        # retiring zone 01 while its micro-grids stay
        (lambda f: f.assign(code=[MICRO1, ZONE1]), True, "still has current children"),
        # the survivor does not cover the retired grid: a gap
        (lambda f: f.assign(geometry=[box(W, MID_LAT, MID_LON, 39.92), None]), True, "gap"),
    ],
    ids=["hole", "no-redraw", "unknown-status", "children-left", "merge-gap"],
)
def test_bad_retirements_are_rejected_and_write_nothing(
    session, settings, west_households, change, redraw, word
):
    age(session)
    session.commit()
    before = row_counts(session)
    with pytest.raises(ingest.ImportRejected) as caught:
        ingest.import_grids(session, change(merge_file()), "EPSG:4490", settings, redraw=redraw)
    session.rollback()
    assert word in str(caught.value.errors)
    assert row_counts(session) == before


def test_same_day_correction_replaces_the_days_version(session, settings, small_grid):
    micro = small_grid_frame().iloc[[3]].assign(name="更正后的名字")
    report = ingest.import_grids(session, micro, "EPSG:4490", settings, redraw=True)
    assert (report.written, report.closed) == (1, 0)
    assert f"1 grid(s) drawn today, corrected in place: {MICRO1}" in report.as_text()
    rows = session.execute(select(Grid.name, Grid.valid_to).where(Grid.code == MICRO1)).all()
    assert [tuple(r) for r in rows] == [("更正后的名字", None)]
    assert session.scalar(select(func.count()).where(Grid.valid_from == Grid.valid_to)) == 0


def test_same_day_merge_drops_the_retired_days_version(session, settings, west_households):
    session.execute(text("DELETE FROM assignment"))
    report = ingest.import_grids(session, merge_file(), "EPSG:4490", settings, redraw=True)
    assert report.closed == 0
    assert versions(session, MICRO2) == []
    assert micro_of(session, 2) == MICRO1
    assert session.scalar(select(func.count()).where(Grid.valid_from == Grid.valid_to)) == 0


def test_same_day_retirement_of_a_staffed_grid_is_refused(session, settings, west_households):
    session.commit()
    before = row_counts(session)
    with pytest.raises(ingest.ImportRejected, match="retire it tomorrow"):
        ingest.import_grids(session, merge_file(), "EPSG:4490", settings, redraw=True)
    session.rollback()
    assert row_counts(session) == before


def test_redraw_on_a_later_day_keeps_both_versions_reachable(session, settings, small_grid):
    yesterday = age(session)
    zone = small_grid_frame().iloc[[1]].assign(name="新片区名")
    ingest.import_grids(session, zone, "EPSG:4490", settings, redraw=True)
    names = {
        at: session.scalar(select(Grid.name).where(Grid.code == ZONE1, grids.current_at(at)))
        for at in (yesterday, None)
    }
    assert names == {yesterday: "第1片区", None: "新片区名"}


def test_cli_merge_from_geojson_reports_what_moved(runner, session, west_households, tmp_path):
    age(session)
    session.execute(text("DELETE FROM assignment"))
    session.commit()
    frame = merge_file(retired_geometry=False).assign(status=["", "撤销"])
    path = tmp_path / "merge.geojson"
    path.write_text(frame.to_json(), encoding="utf-8")
    args = ["gridmap", "import-grids", str(path), "--crs", "EPSG:4490", "--redraw"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "grids: 1 written, 2 closed" in result.output
    assert f"households of retired micro-grid {MICRO2} moved: 1 to {MICRO1}" in result.output
    assert micro_of(session, 2) == MICRO1
