"""HTTP as RFC 9110 says: a 401 names its challenge, a 405 its methods, If-Match takes ``*``,
lists and weak tags, and Retry-After stands only on 429 and 503."""

from __future__ import annotations

import pytest

from gridmap.access.security import WWW_AUTHENTICATE
from gridmap.core import etags
from gridmap.core.errors import InvalidInput
from tests.conftest import COMMUNITY, client_for
from tests.helpers import assert_problem

MICRO = COMMUNITY + "01001"


# ----------------------------------------------------------------------------- 401, 405


@pytest.mark.parametrize(
    ("method", "url", "headers"),
    [
        ("GET", "/api/v1/grids", {}),
        ("GET", "/api/v1/auth/me", {"Authorization": "Bearer not-a-token"}),
        ("POST", "/api/v1/requests", {}),
    ],
)
def test_every_401_names_its_challenge(anonymous, method, url, headers):
    answer = anonymous.open(url, method=method, headers=headers, json={})
    assert_problem(answer, 401)
    assert answer.headers["WWW-Authenticate"] == WWW_AUTHENTICATE == 'Bearer realm="gridmap"'


def test_a_failed_login_names_its_challenge(anonymous):
    answer = anonymous.post("/api/v1/auth/token", json={"username": "nobody", "password": "x"})
    assert_problem(answer, 401)
    assert answer.headers["WWW-Authenticate"] == WWW_AUTHENTICATE


def test_pages_still_send_a_browser_to_the_login_form(anonymous):
    answer = anonymous.get("/", headers={"Accept": "text/html"})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert "WWW-Authenticate" not in answer.headers


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("DELETE", "/api/v1/grids", {"GET"}),
        ("PUT", "/api/v1/requests", {"GET", "POST"}),
        ("GET", f"/api/v1/grids/{MICRO}/division", {"POST", "PUT"}),
        ("POST", "/api/v1/health", {"GET"}),
    ],
)
def test_every_405_lists_the_allowed_methods(client, method, url, allowed):
    answer = client.open(url, method=method)
    assert_problem(answer, 405)
    listed = {m.strip() for m in answer.headers["Allow"].split(",")}
    assert allowed <= listed and method not in listed


def test_a_page_405_lists_them_too(anonymous):
    answer = anonymous.open("/login", method="DELETE", headers={"Accept": "text/html"})
    assert answer.status_code == 405
    assert "POST" in answer.headers["Allow"]


# -------------------------------------------------------------------------------- If-Match


def test_if_match_parses_star_lists_and_weak_tags():
    assert etags.parse("*") is None and etags.parse(" * ") is None
    assert etags.parse('"a", W/"b" ,, "c,d"') == [(False, '"a"'), (True, '"b"'), (False, '"c,d"')]
    assert etags.matches("*", '"g.1"')
    assert etags.matches('"x.0", "g.1"', '"g.1"')
    assert etags.matches('"g.1:gzip"', '"g.1"')
    # RFC 9110 13.1.1: If-Match compares strongly, so a weak tag never matches.
    assert not etags.matches('W/"g.1"', '"g.1"')
    assert not etags.matches('"x.0", W/"g.1"', '"g.1"')
    for bad in ("g.1", '"g.1" "g.2"', '"g.1', 'W/ "g.1"', "**"):
        with pytest.raises(InvalidInput):
            etags.parse(bad)


def _staff_etag(client) -> str:
    answer = client.get(f"/api/v1/grids/{MICRO}/staff")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.headers["ETag"]


def _add_post(client, if_match: str | None, person_id: int = 4):
    headers = {} if if_match is None else {"If-Match": if_match}
    return client.post(
        f"/api/v1/grids/{MICRO}/staff",
        json={"person_id": person_id, "role": "building_leader"},
        headers=headers,
    )


def test_if_match_star_and_lists_are_accepted(client, staffed):
    made = _add_post(client, "*")
    assert made.status_code == 201, made.get_data(as_text=True)
    ended = client.post(
        f"/api/v1/assignments/{made.get_json()['id']}/end",
        json={},
        headers={"If-Match": f'"{MICRO}.0", W/"stale", {made.headers["ETag"]}'},
    )
    assert ended.status_code == 200, ended.get_data(as_text=True)


@pytest.mark.parametrize(
    ("shape", "status", "word"),
    [
        ("W/{etag}", 412, "weak"),
        ('"{code}.999", W/{etag}', 412, "changed since"),
        ("{bare}", 400, "entity tags"),
        ("", 428, "If-Match"),
    ],
)
def test_if_match_refusals(client, staffed, shape, status, word):
    etag = _staff_etag(client)
    value = shape.format(etag=etag, code=MICRO, bare=etag.strip('"'))
    assert_problem(_add_post(client, value if shape else None), status, word)


def test_if_match_star_on_a_missing_resource_is_404(client, staffed):
    answer = client.post(
        f"/api/v1/grids/{COMMUNITY}09001/staff",
        json={"person_id": 4, "role": "building_leader"},
        headers={"If-Match": "*"},
    )
    assert_problem(answer, 404)


# ----------------------------------------------------------------------------- Retry-After


def test_retry_after_is_not_on_an_ordinary_refusal(app, make_user, small_grid):
    worker = client_for(app, make_user("grid_worker", COMMUNITY))
    refused = worker.put("/api/v1/categories/litter", json={})
    assert_problem(refused, 403)
    # The write was counted (flask-limiter's headers are there), but nothing says retry.
    assert "X-RateLimit-Limit" in refused.headers
    assert "Retry-After" not in refused.headers
    made = worker.post("/api/v1/requests", json={"description": ""})
    assert made.status_code == 400 and "Retry-After" not in made.headers


def test_retry_after_is_on_a_throttled_login(anonymous):
    answers = [
        anonymous.post("/api/v1/auth/token", json={"username": "retry-x", "password": "wrong-1"})
        for _ in range(7)
    ]
    assert [a.status_code for a in answers][:5] == [401] * 5
    throttled = answers[-1]
    assert_problem(throttled, 429)
    assert int(throttled.headers["Retry-After"]) >= 1
    assert all("Retry-After" not in a.headers for a in answers[:5])
