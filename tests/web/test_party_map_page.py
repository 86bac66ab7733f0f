"""党建地图 and the forms of 双报到 in headless Chromium, on the live demo: the chief on a laptop
and a phone reads the party map (layers with their counts, legends, a layer turned off, a
building's 楼栋长 and a member's home in the sidebar, a phone revealed where the role may);
a member on a phone withdraws a sign-up (the place is freed) and another moves house (the
registration closes today and the next opens where the phone is); the security administrator
grants a unit's account with the unit picked from the list. axe finds no serious violation.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import ViewportSize
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gridmap.access import accounts
from gridmap.core import clock
from gridmap.core.settings import Settings
from gridmap.storage.models import (
    Grid,
    MemberRegistration,
    PartyUnit,
    Person,
    User,
)
from tests.web.browser import CHIEF, MEMBER, Api, Watched
from tests.web.test_party_pages import GEOLOCATION, LAPTOP
from tests.web.test_requests_pages import PHONE
from tests.web.walk import axe_violations

LAYERS = ("coverage", "buildings", "centrals", "posts", "members")


def _count(page: Any, layer: str) -> int:
    return int(page.locator(f"#gm-party-map-count-{layer}").inner_text())


def _drawn(page: Any, layer: str) -> int:
    return int(
        page.evaluate(
            "(name) => { let n = 0; window.gridmapPartyMap.layers[name].eachLayer(() => n++);"
            " return window.gridmapPartyMap.map.hasLayer("
            "window.gridmapPartyMap.layers[name]) ? n : -n; }",
            layer,
        )
    )


def _click_first(page: Any, layer: str, where: str = "true") -> None:
    """Click the first feature of ``layer`` (matching the JS condition ``where`` on ``l``) as
    a person would tap it: Leaflet's own click event on that feature."""
    page.evaluate(
        """([name, where]) => {
             const test = new Function('l', `return ${where};`);
             const found = [];
             window.gridmapPartyMap.layers[name].eachLayer((l) => {
               if (l.getLayers) l.getLayers().forEach((x) => found.push(x)); else found.push(l);
             });
             found.find((l) => test(l)).fire('click', {}, true);
           }""",
        [layer, where],
    )


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_chief_reads_the_party_map(
    new_watched: Callable[..., Watched], chief_api: Api, viewport: ViewportSize
) -> None:
    layers = chief_api.get("/party/map")["features"]
    kinds = {f["properties"]["layer"] for f in layers}
    assert kinds == {"building", "central", "member", "coverage"}, "the demo has every layer"
    chief = new_watched(viewport)
    chief.login(CHIEF, next_path="/party/map")
    page = chief.page
    page.wait_for_selector("#gm-party-map[data-state=ready]")
    assert page.locator(".gm-nav").get_by_text("党建地图").count() == 1
    for layer in LAYERS:
        assert _count(page, layer) > 0, layer
        assert _drawn(page, layer) > 0, layer
    legend = page.locator("#gm-party-map-legend").inner_text()
    for word in ("有楼栋长的楼栋", "党员中心户", "联系户", "在职党员（已报到）"):
        assert word in legend
    assert "全部覆盖" in page.locator("#gm-party-map-coverage-legend").inner_text()
    # Turn the members' homes off and on again.
    box = page.get_by_role("checkbox", name="在职党员住址")
    box.uncheck()
    assert _drawn(page, "members") < 0
    box.check()
    assert _drawn(page, "members") > 0
    # A building with a 楼栋长: their name and the phone masked, revealed where allowed.
    _click_first(page, "buildings", "l.feature.properties.posts.length > 0")
    detail = page.locator("#gm-party-map-detail")
    assert "楼栋长" in detail.inner_text()
    assert re.search(r"1\d{2}\*{4}\d{4}", detail.inner_text())
    reveal = detail.get_by_role("button", name="显示")
    if reveal.count():
        reveal.first.click()
        page.wait_for_function(
            "() => /1\\d{10}/.test(document.getElementById('gm-party-map-detail').textContent)"
        )
    _click_first(page, "members")
    assert "报到社区" in detail.inner_text() and "服务岗位" in detail.inner_text()
    _click_first(page, "coverage")
    assert "覆盖率" in detail.inner_text()
    chief.screenshot(f"party_map_{viewport['width']}.png")
    assert axe_violations(page) == []
    chief.assert_clean()


def _wait_for_places(page: Any, activity_id: int, places: str) -> None:
    """Until the activity's item, drawn again after a change, shows ``places`` taken."""
    page.wait_for_function(
        "([id, places]) => (document.querySelector("
        "`#gm-party-activities li[data-activity='${id}']`) || {}).textContent?.includes(places)",
        arg=[activity_id, places],
    )


def test_a_member_withdraws_a_sign_up_and_the_place_is_freed(
    new_watched: Callable[..., Watched], chief_api: Api, member_api: Api
) -> None:
    community = member_api.get("/party/me")["registration"]["community"]["code"]
    starts = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    body = {
        "community": community,
        "kind": "care",
        "title": "助老理发（可取消）",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + dt.timedelta(hours=2)).isoformat(),
        "place_name": "社区党群服务中心",
        "place": {"lon": 116.4, "lat": 39.93, "crs": "EPSG:4490"},
        "wanted": 1,
    }
    status, activity = chief_api.call("POST", "/party/activities", body)
    assert status == 201, activity
    phone = new_watched(PHONE, is_mobile=True, has_touch=True)
    phone.login(MEMBER, next_path="/party/me")
    page = phone.page
    page.wait_for_selector("#gm-party-me[data-state=ready]")
    item = page.locator(f"#gm-party-activities li[data-activity='{activity['id']}']")
    item.get_by_role("button", name="报名").click()
    page.wait_for_function(
        "() => document.getElementById('gm-party-result').textContent.startsWith('已报名')"
    )
    assert chief_api.get(f"/party/activities/{activity['id']}")["signed"] == 1
    _wait_for_places(page, activity["id"], "1/1")
    item.get_by_role("button", name="取消报名").click()
    page.wait_for_function(
        "() => document.getElementById('gm-party-result').textContent.startsWith('已取消报名')"
    )
    assert chief_api.get(f"/party/activities/{activity['id']}")["signed"] == 0
    _wait_for_places(page, activity["id"], "0/1")
    assert item.get_by_role("button", name="报名").count() == 1
    assert axe_violations(page) == []
    phone.assert_clean()


@pytest.fixture(scope="module")
def mover(web_engine: Engine) -> dict[str, Any]:
    """An in-service member of the demo registered before today, with no account yet, given
    one ("web-mover"); and a point in another community to move to."""
    with Session(web_engine) as session:
        with_account = select(User.person_id).where(User.person_id.is_not(None))
        current = session.execute(
            select(MemberRegistration.person_id, Grid.id, Grid.name)
            .join(Grid, Grid.id == MemberRegistration.community_id)
            .join(Person, Person.id == MemberRegistration.person_id)
            .where(MemberRegistration.valid_to.is_(None))
            .where(MemberRegistration.valid_from < clock.today())
            .where(Person.kind == "in_service_member")
            .where(MemberRegistration.person_id.not_in(with_account))
            .order_by(MemberRegistration.person_id)
            .limit(1)
        ).one()
        other = session.execute(
            select(func.ST_X(Grid.label_point), func.ST_Y(Grid.label_point), Grid.name)
            .where(Grid.level == "community", Grid.valid_to.is_(None), Grid.id != current.id)
            .order_by(Grid.code)
            .limit(1)
        ).one()
        since = session.scalar(
            select(MemberRegistration.valid_from).where(
                MemberRegistration.person_id == current.person_id,
                MemberRegistration.valid_to.is_(None),
            )
        )
        user = accounts.create_user(session, "web-mover", Settings().demo_password)
        accounts.grant_role(session, user.id, "member", person_id=current.person_id)
        session.commit()
    return {
        "person_id": current.person_id,
        "from": current.name,
        "since": since,
        "to": (other[0], other[1]),
        "name": other[2],
    }


def test_a_member_moves_house_by_registering_where_they_now_live(
    new_watched: Callable[..., Watched], web_engine: Engine, mover: dict[str, Any]
) -> None:
    phone = new_watched(PHONE, is_mobile=True, has_touch=True)
    lon, lat = mover["to"]
    phone.page.context.add_init_script(GEOLOCATION % f"[{lon}, {lat}]")
    phone.login("web-mover", next_path="/party/me")
    page = phone.page
    page.wait_for_selector("#gm-party-me[data-state=ready]")
    assert mover["from"] in page.locator("#gm-party-community").inner_text()
    assert page.locator("#gm-party-move-note").is_visible()
    page.get_by_role("radio", name="当前位置（请在家中操作）").check()
    page.get_by_role("button", name="搬家后重新报到").click()
    page.wait_for_function(
        "(name) => document.getElementById('gm-party-community').textContent.includes(name)",
        arg=mover["name"],
    )
    with Session(web_engine) as session:
        rows = session.scalars(
            select(MemberRegistration)
            .where(MemberRegistration.person_id == mover["person_id"])
            .order_by(MemberRegistration.valid_from)
        ).all()
    today = clock.today()
    assert [(r.valid_from, r.valid_to) for r in rows][-2:] == [
        (mover["since"], today),
        (today, None),
    ]
    # The same day again: a move must come later, and the page says so.
    page.get_by_role("button", name="搬家后重新报到").click()
    page.wait_for_selector("#gm-party-result[data-kind=error]")
    phone.screenshot("party_member_moved.png")
    assert axe_violations(page) == []


def test_the_security_admin_grants_a_units_account_picking_the_unit(
    new_watched: Callable[..., Watched], web_engine: Engine
) -> None:
    with Session(web_engine) as session:
        user = accounts.create_user(session, "web-unit-grant", Settings().demo_password)
        user_id = user.id
        unit = session.execute(
            select(PartyUnit.id, PartyUnit.name).order_by(PartyUnit.id.desc()).limit(1)
        ).one()
        session.commit()
    admin = new_watched(LAPTOP)
    admin.login("demo-security")
    page = admin.page
    form = page.locator("#gm-grant-form")
    form.locator("select[name=user_id]").select_option(label="web-unit-grant")
    picker = form.locator("#gm-grant-unit")
    assert not picker.is_visible()
    form.locator("select[name=role]").select_option("unit")
    assert picker.is_visible() and picker.is_enabled()
    assert not form.locator("input[name=scope_code]").is_visible()
    picker.select_option(str(unit.id))
    form.get_by_role("button", name="授予").click()
    page.wait_for_function(
        "() => document.getElementById('gm-grant-result').textContent.startsWith('已授予')"
    )
    with Session(web_engine) as session:
        granted = session.get(User, user_id)
        assert granted is not None
        assert (granted.role, granted.party_unit_id, granted.scope_code) == ("unit", unit.id, None)
    admin.screenshot("accounts_grant_unit.png")
    assert axe_violations(page) == []
    admin.assert_clean()
