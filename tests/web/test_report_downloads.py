"""The pages' downloads that are background jobs, in headless Chromium on a 390 px phone
screen: the review page's Excel button asks for the monthly report job, shows its progress
(a labelled ``<progress>`` and the job's Chinese message) and saves the workbook; its HTML
report link opens the job's "生成中" page, which becomes the report; the ranking page's Excel
button does the same with the 三率 job.

A worker must run, so these pages run on a database and server of their own (the small grid
of ``tests.jobs``) with a real ``flask gridmap worker``, like the import page's tests.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import openpyxl
import pytest
from playwright.sync_api import Browser, Download, Page
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from gridmap import create_app
from gridmap.access import accounts
from gridmap.core import db
from gridmap.core.settings import Settings
from gridmap.review import service as review
from tests.conftest import COMMUNITY, PASSWORD, create_test_database, drop_test_database
from tests.jobs.conftest import load_grid
from tests.web.browser import Watched, serving
from tests.web.conftest import LIVE_SETTINGS
from tests.web.test_requests_pages import PHONE
from tests.workers import start_worker, stop_worker

CHIEF = "dl-chief"
#: How long a job may take on a busy machine (the worker's first report imports matplotlib).
JOB_MS = 180_000
#: Records every text the job's status line shows, so a test sees the progress it went
#: through however quickly the job ran.
_RECORD_STATUS = """(id) => {
  window.__gmStatuses = [];
  const node = document.getElementById(id);
  new MutationObserver(() => window.__gmStatuses.push(node.textContent))
    .observe(node, { childList: true, characterData: true, subtree: true });
}"""


@pytest.fixture(scope="module")
def downloads_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live server and a worker on a database holding the small grid and a chief."""
    name = f"gridmap_test_downloads_{os.getpid()}"
    _, url = create_test_database(name)
    engine = create_engine(url)
    with Session(engine) as session:
        load_grid(session)
        user = accounts.create_user(session, CHIEF, PASSWORD)
        accounts.grant_role(session, user.id, "chief", scope_code=COMMUNITY)
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
def phone(browser: Browser, downloads_url: str) -> Iterator[Watched]:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", accept_downloads=True)
    watched = Watched.attach(context, downloads_url)
    watched.login(CHIEF, PASSWORD)
    yield watched
    context.close()


def _workbook_rows(download: Download) -> list[tuple]:
    book = openpyxl.load_workbook(io.BytesIO(download.path().read_bytes()))
    return [row for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]


def _statuses(page: Page) -> list[str]:
    return list(page.evaluate("() => window.__gmStatuses"))


def _fits_the_phone(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a 390 px screen"


def test_the_review_pages_button_builds_the_workbook_as_a_job_with_progress(
    phone: Watched,
) -> None:
    page = phone.page
    page.goto(phone.url("/review"))
    page.wait_for_function("() => document.body.dataset.reviewState === 'ready'")
    month = review.last_month()
    bar = page.get_by_role("progressbar", name="Excel 表格生成进度")
    assert bar.is_hidden()
    page.evaluate(_RECORD_STATUS, "gm-review-report-status")
    button = page.get_by_role("button", name="下载 Excel 表格")
    with page.expect_download(timeout=JOB_MS) as asked:
        button.scroll_into_view_if_needed()
        button.click()
        bar.wait_for(state="visible")
    download = asked.value
    assert download.suggested_filename == f"review-{COMMUNITY}-{month}.xlsx"
    rows = _workbook_rows(download)
    assert any(COMMUNITY in str(cell) for row in rows for cell in row)
    statuses = _statuses(page)
    assert any(s.startswith(("排队中", "运行中")) and s.endswith("%") for s in statuses), statuses
    assert page.locator("#gm-review-report-status").inner_text().startswith("已完成")
    assert bar.get_attribute("value") == "100"
    _fits_the_phone(page)
    phone.screenshot("review-report-job-390.png")
    phone.assert_clean()


def test_the_html_report_opens_through_its_generating_page(phone: Watched) -> None:
    page = phone.page
    page.goto(phone.url("/review"))
    page.wait_for_function("() => document.body.dataset.reviewState === 'ready'")
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="网页报告").click()
    report = opened.value
    report.wait_for_load_state()
    assert "/review/report/jobs/" in report.url
    # Either the job's page (生成中, with its labelled progress bar) or, on a quick worker,
    # already the report; the page reloads into the report when the job is done.
    report.wait_for_function(
        "() => document.title.includes('诉求研判报告')", timeout=JOB_MS, polling=500
    )
    assert report.locator("h1").first.inner_text().endswith("诉求研判报告")
    assert report.locator("script").count() == 0


def test_the_job_page_shows_a_labelled_progress_bar_while_it_runs(phone: Watched) -> None:
    page = phone.page
    page.goto(phone.url("/review/report"))
    assert "/review/report/jobs/" in page.url
    if page.title().startswith("一月一研判报告 · 生成中"):
        page.get_by_role("progressbar", name="报告生成进度").wait_for(state="attached")
        _fits_the_phone(page)
    page.wait_for_function(
        "() => document.title.includes('诉求研判报告')", timeout=JOB_MS, polling=500
    )


def test_the_ranking_pages_excel_button_is_a_job_too(phone: Watched) -> None:
    page = phone.page
    page.goto(phone.url("/requests/ranking"))
    page.wait_for_function("() => document.getElementById('gm-ranking').dataset.state === 'ready'")
    page.evaluate(_RECORD_STATUS, "gm-ranking-status")
    with page.expect_download(timeout=JOB_MS) as asked:
        page.get_by_role("button", name="导出 Excel").click()
    download = asked.value
    assert download.suggested_filename.startswith("rates-grid-micro-")
    rows = _workbook_rows(download)
    assert str(rows[0][0]).startswith("三率排名（微网格")
    statuses = _statuses(page)
    assert any(s.endswith("%") for s in statuses), statuses
    assert page.get_by_role("progressbar", name="Excel 导出进度").is_visible()
    _fits_the_phone(page)
    phone.assert_clean()
