"""Staffing and coverage reports: contents, scope, masking, CSV and Excel exports."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from tests.conftest import COMMUNITY, client_for
from tests.helpers import assert_problem


def _rows(client, url: str) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["rows"]


def test_unstaffed_grids(client, staffed):
    rows = _rows(client, "/api/v1/reports/unstaffed")
    missing = {(r["code"], r["missing_role"]) for r in rows}
    # staffed: a chief, a leader for zone 01, a worker for micro 01001
    assert (COMMUNITY, "chief") not in missing
    assert (COMMUNITY + "02", "zone_leader") in missing
    assert {COMMUNITY + "01002", COMMUNITY + "02001", COMMUNITY + "02002"} <= {
        c for c, _ in missing
    }
    assert (COMMUNITY + "01001", "grid_worker") not in missing


def test_uncovered_households_care_first_and_masked(client, staffed):
    rows = _rows(client, "/api/v1/reports/uncovered")
    assert [r["id"] for r in rows] == [2]
    assert rows[0]["care_tags"] == "elderly_alone" and "*" in rows[0]["address"]


def test_the_chiefs_uncovered_households_show_their_doors(app, make_user, staffed):
    """The chief answers for every household of the community: the list (and its Excel)
    says which door to give a member."""
    chief = client_for(app, make_user("chief", COMMUNITY))
    rows = _rows(chief, "/api/v1/reports/uncovered")
    assert [r["address"] for r in rows] == ["东城区测试社区2号楼1单元202"]
    sheet = load_workbook(io.BytesIO(chief.get("/api/v1/reports/uncovered.xlsx").data)).active
    assert "东城区测试社区2号楼1单元202" in [c.value for row in sheet.iter_rows() for c in row]


def test_overloaded_members_and_coverage_rates(client, staffed):
    assert _rows(client, "/api/v1/reports/overloaded?max_load=1") == []
    over = _rows(client, "/api/v1/reports/overloaded?max_load=0.5")
    # A member's name is read by staff (亮明身份), the phone stays masked.
    assert [(r["id"], r["households"], r["name"]) for r in over] == [(4, 1, "赵党")]
    assert over[0]["phone"] == "138****0004"
    rates = {r["code"]: r for r in _rows(client, "/api/v1/reports/coverage?level=zone")}
    assert rates[COMMUNITY + "01"]["rate"] == 1.0 and rates[COMMUNITY + "02"]["rate"] == 0.0
    one = _rows(client, f"/api/v1/reports/coverage?level=micro&grid={COMMUNITY}02")
    assert {r["code"] for r in one} == {COMMUNITY + "02002"}


def test_exports(client, staffed):
    csv = client.get("/api/v1/reports/uncovered.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines()[0] == "\ufeff住户编号,地址,关爱标签,微网格"
    xlsx = client.get("/api/v1/reports/coverage.xlsx?level=zone")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    values = list(sheet.values)
    assert values[0][0] == "包户覆盖率" and values[1][0] == "网格编码" and len(values) == 4


def test_reports_are_scoped_and_checked(app, staffed, make_user):
    leader = client_for(app, make_user("zone_leader", COMMUNITY + "02"))
    assert [r["id"] for r in _rows(leader, "/api/v1/reports/uncovered")] == [2]
    assert _rows(leader, f"/api/v1/reports/uncovered?grid={COMMUNITY}01") == []
    member = client_for(app, make_user("member", person_id=4))
    assert_problem(member.get("/api/v1/reports/uncovered.csv"), 403)
    assert_problem(leader.get("/api/v1/reports/nothing"), 400, "name")
    assert_problem(leader.get("/api/v1/reports/coverage?level=street"), 400, "level")


def test_downloads_name_codes_in_chinese(client, staffed):
    """The JSON keeps codes for machines; CSV and Excel show the glossary's words."""
    uncovered = client.get("/api/v1/reports/uncovered.csv").get_data(as_text=True)
    assert "独居老人" in uncovered and "elderly_alone" not in uncovered
    sheet = load_workbook(io.BytesIO(client.get("/api/v1/reports/unstaffed.xlsx").data)).active
    cells = {cell for row in list(sheet.values)[2:] for cell in row}
    assert {"片区网格", "网格长"} <= cells
    assert not cells & {"zone", "micro", "zone_leader", "grid_worker", "chief"}
