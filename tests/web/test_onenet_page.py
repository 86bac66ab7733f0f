"""The 一张网 page (一张网比对) in headless Chromium, on a laptop and a phone: a street
administrator uploads a department's layer through the page (the job checks, stores and
overlays it), both layers are drawn coloured by verdict with the legend, the communities'
distance from 一张网 and the table of cells; a second layer that splits our zones shows red;
the export for the departments' meeting is a job the page follows and downloads; a chief of
the community sees it on a phone. No serious axe-core violation, nothing from another host.

The page imports for real, so it runs on a database, a server and a worker of its own (the
small grid of ``tests.jobs``).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, ViewportSize
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from gridmap import create_app
from gridmap.access import accounts
from gridmap.core import db
from gridmap.core.settings import Settings
from tests.conftest import (
    COMMUNITY,
    MID_LON,
    PASSWORD,
    E,
    N,
    S,
    W,
    create_test_database,
    drop_test_database,
    small_grid_frame,
)
from tests.jobs import files
from tests.jobs.conftest import load_grid
from tests.onenet.planted import shifted, split_cell
from tests.web.browser import Watched, count, serving, wait_for
from tests.web.conftest import LIVE_SETTINGS
from tests.web.walk import axe_violations, menu_items_cut_off
from tests.workers import start_worker, stop_worker

STREET, CHIEF = "onenet-street", "onenet-chief"
LAPTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
JOB_MS = 120_000


@pytest.fixture(scope="module")
def onenet_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live server and a worker on a database holding the small grid, its households, a
    street administrator and the community's chief."""
    name = f"gridmap_test_onenet_page_{os.getpid()}"
    _, url = create_test_database(name)
    engine = create_engine(url)
    with Session(engine) as session:
        load_grid(session)
        for username, role, scope in (
            (STREET, "street_admin", COMMUNITY[:9]),
            (CHIEF, "chief", COMMUNITY),
        ):
            user = accounts.create_user(session, username, PASSWORD)
            accounts.grant_role(session, user.id, role, scope_code=scope)
        session.commit()
    engine.dispose()
    worker = start_worker(url, tmp_path_factory.mktemp("worker") / "worker.log")
    app = create_app(Settings(database_url=url, **LIVE_SETTINGS))
    with serving(app) as url:
        yield url
    db.dispose(app)
    stop_worker(worker)
    drop_test_database(name)


@pytest.fixture
def sized(browser: Browser, onenet_url: str) -> Iterator[Callable[[ViewportSize, str], Watched]]:
    contexts = []

    def make(size: ViewportSize, username: str) -> Watched:
        context = browser.new_context(viewport=size, locale="zh-CN", accept_downloads=True)
        contexts.append(context)
        watched = Watched.attach(context, onenet_url)
        watched.login(username, PASSWORD)
        return watched

    yield make
    for context in contexts:
        context.close()


def _open(watched: Watched) -> Page:
    page = watched.page
    page.goto(watched.url("/onenet"))
    page.wait_for_function("() => window.gridmapOnenet !== undefined")
    return page


def _state(page: Page, *states: str, timeout: int = JOB_MS) -> str:
    page.wait_for_function(
        "(states) => states.includes(window.gridmapOnenet.state)",
        arg=list(states),
        timeout=timeout,
    )
    return str(page.evaluate("() => window.gridmapOnenet.state"))


def _upload(page: Page, name: str, content: bytes, title: str, level: str) -> None:
    page.locator("#gm-onenet-file").set_input_files(
        {"name": name, "mimeType": "application/geo+json", "buffer": content}
    )
    page.get_by_label("图层名称").fill(title)
    page.locator("#gm-onenet-department").select_option(label="公安警格")
    page.locator("#gm-onenet-level").select_option(level)
    page.get_by_role("button", name="上传并比对").click()


def _counts(page: Page) -> dict[str, int]:
    found: dict[str, int] = page.evaluate("() => window.gridmapOnenet.counts()")
    return found


def test_before_any_layer_a_chief_sees_their_area_and_who_imports(sized) -> None:
    page = _open(sized(LAPTOP, CHIEF))
    assert _state(page, "empty", "shown") == "empty"
    assert "由街道管理员在本页导入" in page.locator("#gm-onenet-none").inner_text()
    centre = page.evaluate("() => window.gridmapOnenet.map.getCenter()")
    assert W < centre["lng"] < E and S < centre["lat"] < N, centre  # the community, not China


def test_upload_overlay_table_and_export_on_a_laptop(sized) -> None:
    street = sized(LAPTOP, STREET)
    page = _open(street)
    assert "一张网" in page.locator(".gm-nav").inner_text()
    assert _state(page, "empty", "shown") == "empty"
    assert page.locator("#gm-onenet-none").is_visible()

    ours = small_grid_frame()
    _upload(
        page, "jingge.geojson", files.geojson(shifted(ours, "micro", 3.0)), "派出所警格", "micro"
    )
    assert _state(page, "shown", "refused", "error") == "shown"
    assert _counts(page) == {"unit-aligned": 4, "cell-aligned": 4}
    wait_for(page, "path.gm-onenet-cell-aligned")
    assert count(page, "path.gm-onenet-unit-aligned") == 4
    rows = page.locator("#gm-onenet-summary tbody tr")
    assert rows.count() == 1
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[:3] == ["4", "4", "0"] and cells[3].startswith(("99.", "100.0"))
    statuses = page.locator("#gm-onenet-cells tbody tr td:nth-child(2)").all_inner_texts()
    assert statuses == ["一致"] * 4
    legend = page.locator("#gm-onenet-legend").inner_text()
    assert all(word in legend for word in ("我方网格", "外部门网格", "被切分", "切分我方网格"))
    assert axe_violations(page) == []
    street.screenshot("onenet-aligned-1366.png")

    with page.expect_download(timeout=JOB_MS) as asked:
        page.get_by_label("格式").select_option("csv")
        page.get_by_role("button", name="导出比对结果").click()
    assert _state(page, "exported", "error") == "exported"
    text = asked.value.path().read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:3] == ["网格编码", "网格名称", "比对结果"] and len(table) == 5
    assert asked.value.suggested_filename.startswith("onenet-layer")

    with page.expect_download(timeout=JOB_MS) as drafted:
        page.get_by_role("button", name="下载吸附草稿").click()
    draft = json.loads(drafted.value.path().read_text(encoding="utf-8"))
    assert len(draft["features"]) == 7  # the community, its zones and micro-grids, snapped

    split = split_cell(MID_LON, S, N)
    _upload(page, "chengguan.geojson", files.geojson(split), "城管网格", "zone")
    assert _state(page, "shown", "refused", "error") == "shown"
    assert _counts(page) == {"unit-split": 2, "cell-splits": 1}
    wait_for(page, "path.gm-onenet-cell-splits")
    stroke = page.evaluate(
        "() => getComputedStyle(document.querySelector('path.gm-onenet-cell-splits')).stroke"
    )
    assert stroke == "rgb(200, 16, 46)"
    pieces = page.locator("#gm-onenet-cells tbody td.gm-onenet-pieces").inner_text()
    assert pieces.split() == [f"{COMMUNITY}01:60.0%", f"{COMMUNITY}02:40.0%"]
    assert page.locator("#gm-onenet-layer option").count() == 2
    assert axe_violations(page) == []
    street.screenshot("onenet-split-1366.png")
    street.assert_clean()


def test_a_chiefs_header_leaves_the_map_whole_on_a_laptop(sized) -> None:
    """A chief's dozen links wrap between links (never inside one) and the map starts below
    the header, however many rows the links take."""
    chief = sized(LAPTOP, CHIEF)
    page = _open(chief)
    assert page.locator(".gm-nav a", has_text="一张网").count() == 1
    broken = page.evaluate(
        """() => [...document.querySelectorAll('.gm-nav a')]
            .filter((a) => a.scrollWidth > a.clientWidth + 1).map((a) => a.textContent)"""
    )
    assert broken == []
    header = page.locator(".gm-header").bounding_box()
    drawn = page.locator(".folium-map").first.bounding_box()
    assert header is not None and drawn is not None
    assert drawn["y"] >= header["y"] + header["height"] - 1


def test_a_chief_reads_it_on_a_phone(sized) -> None:
    chief = sized(PHONE, CHIEF)
    page = _open(chief)
    assert _state(page, "shown", "empty", "error") == "shown"
    assert page.locator("#gm-onenet-import").count() == 0  # importing is the street's
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a 390 px screen"
    assert axe_violations(page) == []
    chief.screenshot("onenet-chief-390.png")
    chief.assert_clean()
    street = sized(PHONE, STREET)
    _open(street)
    assert menu_items_cut_off(street.page) == []
