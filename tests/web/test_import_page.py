"""The grid import page (网格导入) in headless Chromium on a phone-sized screen, logged in
through the form as a street administrator: upload → the validation job's progress → the
report on the map (what the redraw changes) → confirm → the new grid on the map; and a refused
file drawn with its problems in red, with no confirmation offered.

The page imports for real, so it runs on a database and a server of its own (the small grid
of ``tests.jobs``, not the shared demo) with a real ``flask gridmap worker``; the import comes
last, after the refusals that are checked against the grid as loaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from gridmap import create_app
from gridmap.access import accounts
from gridmap.core import db
from gridmap.core.settings import Settings
from tests.conftest import COMMUNITY, PASSWORD, create_test_database, drop_test_database
from tests.jobs import files
from tests.jobs.conftest import load_grid
from tests.web.browser import Watched, count, serving, wait_for
from tests.web.conftest import LIVE_SETTINGS
from tests.web.test_requests_pages import PHONE
from tests.workers import start_worker, stop_worker

STREET = "imp-street"


@pytest.fixture(scope="module")
def import_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live server and a worker on a database holding the small grid and a street
    administrator."""
    name = f"gridmap_test_import_page_{os.getpid()}"
    _, url = create_test_database(name)
    engine = create_engine(url)
    with Session(engine) as session:
        load_grid(session)
        user = accounts.create_user(session, STREET, PASSWORD)
        accounts.grant_role(session, user.id, "street_admin", scope_code=COMMUNITY[:9])
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
def phone(browser: Browser, import_url: str) -> Iterator[Watched]:
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    watched = Watched.attach(context, import_url)
    watched.login(STREET, PASSWORD)
    yield watched
    context.close()


def _open(watched: Watched) -> Page:
    page = watched.page
    page.goto(watched.url("/grids/import"))
    page.wait_for_function("() => window.gridmapImport !== undefined")
    return page


def _upload(page: Page, name: str, content: bytes) -> None:
    page.locator("#gm-import-file").set_input_files(
        {"name": name, "mimeType": "application/geo+json", "buffer": content}
    )
    page.get_by_role("button", name="上传并检查").click()


def _state(page: Page, *states: str) -> str:
    page.wait_for_function(
        "(states) => states.includes(window.gridmapImport.state)", arg=list(states)
    )
    return str(page.evaluate("() => window.gridmapImport.state"))


def _fits_the_phone(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a 390 px screen"


def test_a_refused_file_shows_its_problems_in_red_and_no_confirm(phone: Watched) -> None:
    page = _open(phone)
    _upload(page, "overlap.geojson", files.geojson(files.overlapping_frame()))
    assert _state(page, "validated", "refused", "error") == "refused"
    assert "未通过检查" in page.locator("#gm-import-verdict").inner_text()
    wait_for(page, "path.gm-import-problem")
    assert count(page, "path.gm-import-problem") >= 1
    problems = page.locator("#gm-import-problems li").all_inner_texts()
    assert any("重叠" in p for p in problems), problems
    fill = page.evaluate(
        "() => getComputedStyle(document.querySelector('path.gm-import-problem')).stroke"
    )
    assert fill == "rgb(200, 16, 46)"
    assert page.locator("#gm-import-confirm").is_hidden()
    phone.screenshot("import-refused-390.png")
    phone.assert_clean()


def test_a_file_that_is_not_a_grid_file_is_refused_with_a_chinese_message(
    phone: Watched,
) -> None:
    page = _open(phone)
    page.locator("#gm-import-file").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}
    )
    page.get_by_role("button", name="上传并检查").click()
    assert _state(page, "error") == "error"
    assert "只能上传网格文件" in page.locator("#gm-banner").inner_text()
    assert page.locator("#gm-import-confirm").is_hidden()
    phone.console_errors.clear()  # the 400 answer is logged by the browser, as it should be
    assert phone.csp_violations == [] and phone.foreign_requests() == []


def test_upload_check_confirm_and_the_new_grid_on_the_map(
    phone: Watched, tmp_path: Path, import_url: str
) -> None:
    page = _open(phone)
    assert page.locator("#gm-import-crs option").count() == 5
    assert "网格导入" in page.locator(".gm-nav").inner_text()
    _fits_the_phone(page)
    _upload(page, "grids.geojson", files.geojson(files.redraw_frame()))
    hint = page.locator("#gm-import-hint")
    assert "GCJ-02" in hint.inner_text()  # degrees in China, declared CGCS2000
    assert _state(page, "validated", "refused", "error") == "validated"
    assert page.locator("#gm-import-progress").get_attribute("value") == "100"
    assert "检查通过" in page.locator("#gm-import-verdict").inner_text()
    assert page.locator("[data-change=new]").inner_text() == "7 个网格"
    assert page.locator("[data-change=changed]").inner_text() == "2 个网格"
    assert page.locator("[data-change=moved]").inner_text() == "3 户"
    wait_for(page, "path.gm-import-new")
    assert count(page, "path.gm-import-new") == 7
    assert count(page, "path.gm-import-changed") == 2
    assert count(page, "path.gm-import-current") == 7
    assert count(page, "path.gm-import-problem") == 0
    phone.screenshot("import-validated-390.png")
    _fits_the_phone(page)

    page.get_by_role("button", name="确认导入").click()
    assert _state(page, "imported", "error") == "imported"
    assert "导入完成：写入 9 个网格" in page.locator("#gm-import-verdict").inner_text()
    assert count(page, "path.gm-import-new") == 0
    assert count(page, "path.gm-import-current") == 14  # the redrawn grid and the new one
    assert page.locator("#gm-import-confirm").is_hidden()
    phone.screenshot("import-imported-390.png")
    phone.assert_clean()
