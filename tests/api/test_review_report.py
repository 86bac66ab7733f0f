"""The monthly review report (一月一研判报告) on hand-built requests with known numbers.

On top of the timelines of ``tests/requests/test_rates.py`` (November 2024: R1, R2, R3 in
micro-grid 01001, R4, R5 in 01002, all 垃圾; R6 in 01001 on 31 October; R7 a duplicate), this
module files 乱停乱放 (``street.parking``) requests, each with a resident's phone number:

=======  ====================  =================================================
where    when                  what
=======  ====================  =================================================
02001    15 and 16 Oct 2024    two parking requests (the month before: 环比)
02001    19 Nov 2024           one parking request
01001    12 Nov 2023           one garbage request (the year before: 同比)
C 01001  20 and 21 Nov 2024    two parking requests in community C (丙社区), the
                               street's other community
=======  ====================  =================================================

So in November 2024 community A has 6 requests (5 garbage, 1 parking) against 3 in October
and 1 in November 2023, and the street 8 against 3. Nothing was accepted but R1–R3, R5 and
R6: at ``AS_OF`` (10 December) R3, R4, R5 and every parking request of November are overdue.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from gridmap import jobs
from gridmap.access.auth import Scope
from gridmap.core.errors import InvalidInput, NotFound
from gridmap.core.settings import Settings
from gridmap.grid import ingest
from gridmap.requests import rates, sync_limit
from gridmap.requests import service as domain
from gridmap.review import report as review_report
from gridmap.review import report_jobs
from gridmap.storage.models import AuditEntry
from tests.conftest import COMMUNITY, client_for, square_grid_frame
from tests.helpers import clock_at
from tests.requests import conftest as request_fixtures
from tests.requests.conftest import IN_01001, IN_02001
from tests.requests.timelines import M1, M2, M3, SH, Desk, at

# The request tests' fixtures: the catalogue, the staffed small grid and test_rates' timelines.
catalogue, staff, desk = request_fixtures.catalogue, request_fixtures.staff, request_fixtures.desk

A = COMMUNITY
C = COMMUNITY[:9] + "002"
STREET = COMMUNITY[:9]
C_NAMES = ("丙社区", "丙1片区", "丙2片区", "丙1-001", "丙1-002", "丙2-001", "丙2-002")
IN_C_01001 = (116.425, 39.915)
PHONE = re.compile(r"1[3-9]\d{9}")
ID_NUMBER = re.compile(r"\d{17}[\dXx]")
#: A resident's phone number typed into every request this module files.
RESIDENT_PHONE = "13912345678"
NOVEMBER = rates.period("2024-11")
AS_OF = dt.datetime(2024, 12, 10, 10, 0, tzinfo=SH)


@pytest.fixture
def world(
    session: Session, settings: Settings, desk: list[int], monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """The desk's requests, community C and the parking requests of the module's table."""
    ingest.import_grids(
        session,
        square_grid_frame(C, (116.42, 39.90, 116.44, 39.92), C_NAMES),
        "EPSG:4490",
        settings,
    )
    street = Desk(session, monkeypatch).caller("report-street", "street_admin", scope_code=STREET)

    def file(category: str, point: tuple[float, float], moment: dt.datetime) -> int:
        new = domain.NewRequest(
            category, "门口车辆乱停", "api", *point, contact_phone=RESIDENT_PHONE
        )
        with clock_at(moment):
            return domain.intake(session, new, street)

    file("street.parking", IN_02001, at(10, 15, 10))
    file("street.parking", IN_02001, at(10, 16, 10))
    file("street.parking", IN_02001, at(11, 19, 10))
    file("sanitation.garbage", IN_01001, dt.datetime(2023, 11, 12, 10, tzinfo=SH))
    file("street.parking", IN_C_01001, at(11, 20, 10))
    file("street.parking", IN_C_01001, at(11, 21, 10))
    session.commit()
    return desk


def _report(session, scope=(STREET,), grid=None, month="2024-11"):
    return review_report.monthly(session, Scope(scope), month, grid, now=AS_OF)


def _sheets(data: bytes) -> dict[str, list[tuple]]:
    book = load_workbook(io.BytesIO(data))
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def _xlsx_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "".join(archive.read(name).decode("utf-8") for name in archive.namelist())


# --------------------------------------------------------------------------------- figures


def test_the_street_report_counts_the_month_against_the_months_before(session, world):
    report = _report(session)
    assert (report.area.code, report.area.name, report.title) == (
        STREET,
        f"街道 {STREET}",
        f"街道 {STREET} 2024年11月 诉求研判报告",
    )
    this = report.this_month
    assert (this.month, this.count, this.previous, this.last_year) == ("2024-11", 8, 3, 1)
    assert (this.ratio, this.year_ratio) == (1.6667, 7.0)
    assert report.overdue == 6  # R3, R4, R5 and the three parking requests of November
    assert sorted(r["id"] for r in report.overdue_requests)[:3] == sorted(world[2:5])
    assert [(x.code, x.count, x.previous, x.ratio) for x in report.categories] == [
        ("sanitation.garbage", 5, 1, 4.0),
        ("street.parking", 3, 2, 0.5),
    ]
    assert report.grid_level == "community" and report.map_level == "zone"
    assert [(x.code, x.name, x.count, x.previous, x.ratio) for x in report.grids] == [
        (A, "测试社区", 6, 3, 1.0),
        (C, "丙社区", 2, 0, None),
    ]
    assert [(x.code, x.count) for x in report.micro_top] == [
        (M1, 3),
        (M2, 2),
        (C + "01001", 2),
        (M3, 1),
    ]
    assert [(t.month, t.count) for t in report.trend][-3:] == [
        ("2024-09", 0),
        ("2024-10", 3),
        ("2024-11", 8),
    ]
    assert len(report.trend) == 12 and report.trend[0].month == "2023-12"
    assert dict(zip(report.map_shapes["code"], report.map_shapes["count"], strict=True)) == {
        A + "01": 5,
        A + "02": 1,
        C + "01": 2,
        C + "02": 0,
    }
    assert len(report.micro_shapes) == 8 and report.hot_spots["micro_grids"] == 8


def test_the_three_rates_are_those_of_the_ranking(session, world):
    report = _report(session, (A,))
    assert report.grid_level == "zone"
    expected = rates.ranking(session, Scope((A,)), NOVEMBER, level="zone", now=AS_OF)
    assert report.rate_rows == expected.rows
    # The area's figures are its zones' counts summed, its rates recomputed from them.
    assert report.rates["filed"] == sum(r["filed"] for r in expected.rows) == 6
    for key in ("response_counted", "responded_on_time", "due", "resolved", "satisfied"):
        assert report.rates[key] == sum(r[key] for r in expected.rows), key
    community = rates.ranking(session, Scope((A,)), NOVEMBER, level="community", now=AS_OF)
    (row,) = community.rows
    for key in ("response_rate", "resolution_rate", "satisfaction_rate", "score"):
        assert report.rates[key] == row[key], key


def test_count_classes_split_the_counts_in_equal_intervals():
    assert review_report.count_classes([0, 1, 640, 128, 129, 513]) == (
        [0, 1, 5, 1, 2, 5],
        ["0", "1–128", "129–256", "257–384", "385–512", "513–640"],
    )
    assert review_report.count_classes([0, 2, 1]) == ([0, 2, 1], ["0", "1", "2"])
    assert review_report.count_classes([0, 0]) == ([0, 0], ["0"])


def test_the_workbook_holds_the_exact_counts(session, world):
    report = _report(session, (A,))
    sheets = _sheets(review_report.to_xlsx(report))
    assert list(sheets) == [
        "概况",
        "分类统计",
        "网格统计",
        "热点",
        "超期诉求",
        "三率",
        "三率说明",
        "环比",
    ]
    summary = dict(sheets["概况"][1:])
    assert summary["本月诉求数"] == 6 and summary["上月诉求数"] == 3
    assert summary["环比"] == 1.0 and summary["去年同月诉求数"] == 1 and summary["同比"] == 5.0
    assert summary["本月诉求中超期未办"] == 4  # R3, R4, R5 and the parking request in 02001
    assert summary["区域"] == "测试社区" and summary["月份"] == "2024-11"
    assert sheets["分类统计"][0] == ("分类编码", "分类名称", "本月", "上月", "增减", "环比")
    assert sheets["分类统计"][1:] == [
        ("sanitation.garbage", "暴露垃圾、垃圾满溢", 5, 1, 4, 4.0),
        ("street.parking", "乱停乱放", 1, 2, -1, -0.5),
    ]
    grids = sheets["网格统计"][1:]
    assert grids[:2] == [
        ("片区网格", A + "01", "第1片区", 5, 1, 4, 4.0),
        ("片区网格", A + "02", "第2片区", 1, 2, -1, -0.5),
    ]
    assert [row[1:4] for row in grids[2:]] == [(M1, "1-001", 3), (M2, "1-002", 2), (M3, "2-001", 1)]
    overdue = sheets["超期诉求"]
    assert overdue[0][:5] == ("诉求编号", "分类编码", "分类名称", "状态", "微网格编码")
    assert len(overdue) == 5 and all(isinstance(row[0], int) for row in overdue[1:])
    assert {row[4] for row in overdue[1:]} == {M1, M2, M3}
    assert isinstance(overdue[1][7], dt.datetime)
    spots = sheets["热点"]
    assert spots[0][:3] == ("微网格编码", "所属社区", "微网格名称")
    assert all(row[1] == "测试社区" for row in spots[1:])  # a micro-grid named with its community
    three = sheets["三率"]
    assert three[0] == tuple(heading for _, heading in rates.COLUMNS)
    assert [row[0] for row in three[1:]] == [r["code"] for r in report.rate_rows]
    made = dict(sheets["三率说明"][1:])
    assert made["统计周期"].startswith("2024-11-01 至 2024-11-30（北京时间）")
    assert "不少于 5 件" in made["最低件数"] and "综合得分" in made
    trend = sheets["环比"]
    assert trend[-1] == ("2024-11", 6, 3, 3, 1.0, 1, 5.0)
    assert trend[-2][:5] == ("2024-10", 3, 0, 3, None)
    book = load_workbook(io.BytesIO(review_report.to_xlsx(report)))
    assert all(sheet.freeze_panes == "A2" for sheet in book.worksheets)


def test_the_html_holds_the_key_figures_and_inline_svg_only(session, world):
    report = _report(session)
    page = review_report.to_html(report)
    assert f"<title>街道 {STREET} 2024年11月 诉求研判报告</title>" in page
    figure = re.search(r'id="figure-total">(.*?)</div>\s*</div>', page, re.S)
    assert figure is not None
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", figure[1])).split() == [
        "本月诉求",
        "8",
        "上月",
        "3，环比",
        "+166.7%",
    ]
    assert "+700.0%" in page  # 同比 against November 2023
    # The 三率 section says how its rows were ranked, and why a row is not.
    ranked = page[page.index('<section id="rates">') : page.index('<section id="trend">')]
    assert "<dt>统计周期</dt><dd>2024-11-01 至 2024-11-30（北京时间）" in ranked
    assert "<dt>最低件数</dt>" in ranked and "<dt>并列规则</dt>" in ranked
    assert "本期受理诉求少于最低件数，不排名" in ranked
    assert page.count("<svg") == 4 and "乱停乱放" in page and "丙社区" in page
    assert "<text" in page  # svg.fonttype none: the Chinese stays text
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "<image" not in page and "data:" not in page  # vector only, nothing embedded
    assert not re.search(r"\bsrc\s*=|https?:|url\((?!#)|@import", page, re.I)
    assert all(link.startswith("#") for link in re.findall(r'href="([^"]*)"', page))
    assert "nonce=" not in page
    assert 'nonce="abc"' in review_report.to_html(report, nonce="abc")


def test_no_personal_data_in_either_file(session, world):
    report = _report(session)
    texts = (review_report.to_html(report), _xlsx_text(review_report.to_xlsx(report)))
    for text in texts:
        assert not PHONE.search(text) and not ID_NUMBER.search(text)
        assert RESIDENT_PHONE not in text and "陈小姐" not in text and "门口车辆乱停" not in text
        assert "王总" not in text and "张员" not in text  # staff names neither


# ----------------------------------------------------------------------------------- scope


def test_out_of_scope_data_never_appears(session, world):
    with pytest.raises(NotFound):
        _report(session, (A,), grid=C)
    zone = _report(session, (A + "01",))
    assert (zone.area.code, zone.this_month.count, zone.grid_level) == (A + "01", 5, "micro")
    assert {x.code for x in zone.grids} == {M1, M2}
    for text in (review_report.to_html(zone), _xlsx_text(review_report.to_xlsx(zone))):
        assert A + "02" not in text and C not in text
        assert "丙" not in text and "2-001" not in text and "乱停乱放" not in text
    # A zone leader asking for the whole community gets its zone only.
    narrowed = _report(session, (A + "01",), grid=A)
    assert narrowed.area.code == A + "01" and narrowed.this_month.count == 5


def test_bad_months_and_grids_are_refused(session, world):
    for month in (
        "2024-13",
        "2024-1",
        "24-11",
        "1899-12",
        "2201-01",
        "２０２４-11",
        "2024-W45",
        "",
    ):
        with pytest.raises(InvalidInput, match="month"):
            _report(session, month=month)
    with pytest.raises(InvalidInput, match="grid"):
        _report(session, grid="12")
    for grid in (A + "09", "110101009009", A + "01009"):
        with pytest.raises(NotFound, match="not in your area"):
            _report(session, grid=grid)
    with pytest.raises(InvalidInput, match="no grids"):
        review_report.monthly(session, Scope((), 4), "2024-11", None, now=AS_OF)


def test_an_empty_month_still_makes_a_report(session, world):
    report = _report(session, month="2030-01")
    assert report.this_month.count == 0 and report.categories == [] and report.overdue == 0
    assert "本月及上月均无诉求" in review_report.to_html(report)
    assert _sheets(review_report.to_xlsx(report))["分类统计"] == [
        ("分类编码", "分类名称", "本月", "上月", "增减", "环比")
    ]


# ------------------------------------------------------------------------------ endpoints


def test_the_page_is_a_job_and_the_workbook_is_served_and_both_are_audited(
    app, make_user, session, session_factory, settings, world
):
    chief = client_for(app, make_user("chief", A))
    asked = chief.get("/review/report?month=2024-11")
    assert asked.status_code == 303
    job_page = asked.headers["Location"]
    job_id = int(job_page.rsplit("/", 1)[1])
    assert job_page == f"/review/report/jobs/{job_id}"
    waiting = chief.get(job_page, headers={"Accept": "text/html"})
    assert waiting.status_code == 200 and waiting.mimetype == "text/html"
    shell = waiting.get_data(as_text=True)
    assert "报告生成中" in shell and 'aria-label="报告生成进度"' in shell
    assert "js/pages/report_job.js" in shell
    # The worker's part, in this test's transaction.
    assert jobs.run_one(session_factory, report_jobs.handlers(settings), job_id) == "succeeded"
    page = chief.get(job_page)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "style-src 'self' 'unsafe-inline'" in page.headers["Content-Security-Policy"]
    assert "测试社区 2024年11月 诉求研判报告" in html and "<script" not in html
    another = client_for(app, make_user("chief", A))
    assert another.get(job_page).status_code == 404
    book = chief.get(f"/api/v1/review/report.xlsx?month=2024-11&grid={A}02")
    assert book.status_code == 200
    assert book.headers["Content-Disposition"] == f"attachment; filename=review-{A}02-2024-11.xlsx"
    summary = dict(_sheets(book.data)["概况"][1:])
    assert (summary["区域编码"], summary["本月诉求数"], summary["上月诉求数"]) == (A + "02", 1, 2)
    exports = session.query(AuditEntry).filter(AuditEntry.object_type == "review_report").all()
    assert [(e.action, e.object_id, e.detail["format"]) for e in exports] == [
        ("export", f"review-{A}-2024-11", "html"),
        ("export", f"review-{A}02-2024-11", "xlsx"),
    ]


def test_synchronous_downloads_of_a_large_area_are_refused_with_the_job_to_ask(
    app, make_user, world, monkeypatch
):
    """Community A has 4 micro-grids, its zone 02 two: with a limit of 3, A is too large to
    build inside a request, zone 02 is not."""
    monkeypatch.setattr(sync_limit, "SYNC_MICRO_GRIDS", 3)
    chief = client_for(app, make_user("chief", A))
    for url, job in (
        ("/api/v1/review/report.xlsx?month=2024-11", "/api/v1/review/report-jobs"),
        ("/api/v1/rates.xlsx?period=2024-11", "/api/v1/rates-jobs"),
        ("/api/v1/rates.csv?period=2024-11", "/api/v1/rates-jobs"),
    ):
        answer = chief.get(url)
        assert answer.status_code == 422, url
        problem = answer.get_json()
        assert problem["code"] == "too-large-for-request"
        assert "4 个微网格" in problem["detail"] and job in problem["detail"]
    assert chief.get(f"/api/v1/review/report.xlsx?month=2024-11&grid={A}02").status_code == 200
    assert chief.get(f"/api/v1/rates.xlsx?period=2024-11&grid={A}02").status_code == 200


def test_endpoints_refuse_out_of_scope_grids_and_bad_input(app, make_user, world):
    chief = client_for(app, make_user("chief", A))
    for url in (f"/review/report?month=2024-11&grid={C}", f"/api/v1/review/report.xlsx?grid={C}"):
        answer = chief.get(url)
        assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
    browser = chief.get(f"/review/report?grid={C}", headers={"Accept": "text/html"})
    assert browser.status_code == 404 and browser.mimetype == "text/html"
    assert "丙" not in browser.get_data(as_text=True)
    for url in (
        "/review/report?month=2024-13",
        "/review/report?month=soon",
        "/review/report?grid=12",
        "/api/v1/review/report.xlsx?month=2024-13",
        "/api/v1/review/report.xlsx?month=soon",
        "/api/v1/review/report.xlsx?grid=12",
    ):
        answer = chief.get(url)
        assert answer.status_code in (400, 422), url
        assert answer.mimetype == "application/problem+json", url
    worker = client_for(app, make_user("grid_worker", M1, person_id=3))
    assert worker.get("/review/report").status_code == 403
    assert worker.get("/api/v1/review/report.xlsx").status_code == 403


# ------------------------------------------------------------------------------------ CLI


def test_the_cli_writes_both_files(runner, make_user, session, world, tmp_path):
    make_user("zone_leader", A + "01")  # t0-zone-leader
    result = runner.invoke(
        args=[
            "gridmap",
            "review-report",
            "--month",
            "2024-11",
            "--scope-user",
            "t0-zone-leader",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert result.exit_code == 0, result.output
    html = tmp_path / "out" / f"review-{A}01-2024-11.html"
    xlsx = html.with_suffix(".xlsx")
    assert html.exists() and xlsx.exists()
    assert "第1片区 2024年11月 诉求研判报告" in html.read_text(encoding="utf-8")
    assert dict(_sheets(xlsx.read_bytes())["概况"][1:])["本月诉求数"] == 5
    everything = runner.invoke(
        args=[
            "gridmap",
            "review-report",
            "--month",
            "2024-11",
            "--grid",
            C,
            "--all",
            "--out",
            str(tmp_path),
        ]
    )
    assert everything.exit_code == 0, everything.output
    assert (tmp_path / f"review-{C}-2024-11.xlsx").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--month", "2024-13"], "month must be YYYY-MM"),
        (["--month", "2024-11", "--grid", "110101009009"], "not in your area"),
        (["--month", "2024-11", "--scope-user", "nobody-here"], "no account"),
        (["--month", "2024-11", "--scope-user", "x", "--all"], "not both"),
    ],
)
def test_the_cli_fails_cleanly_on_bad_input(runner, world, tmp_path, args, message):
    result = runner.invoke(args=["gridmap", "review-report", *args, "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert message in result.output.lower() or message in result.output
    assert list(tmp_path.iterdir()) == []
