"""三张清单 and 微心愿 pages in headless Chromium, on the live demo: an in-service member on a
phone (390×844) sees the open needs and wishes of their community nearest first and claims a
wish with one tap; the chief on a laptop and a phone sees open needs and resources on the map
with its legend, confirms a member's claim of a need and a fulfilled wish. axe finds no
serious violation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import FilePayload, ViewportSize

from tests.requests.photos import image
from tests.web.browser import CHIEF, MEMBER, Api, Watched
from tests.web.test_party_pages import LAPTOP
from tests.web.test_requests_pages import PHONE
from tests.web.walk import axe_violations


def _community(member_api: Api) -> str:
    me = member_api.get("/party/me")
    assert me["registration"], "the demo registers demo-member with their community"
    return str(me["registration"]["community"]["code"])


def _made(api: Api, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, made = api.call("POST", path, body)
    assert status == 201, made
    return dict(made)


def test_a_member_claims_a_wish_near_them_on_a_phone(
    new_watched: Callable[..., Watched], chief_api: Api, member_api: Api
) -> None:
    community = _community(member_api)
    wish = _made(
        chief_api,
        "/party/wishes",
        {"community": community, "title": "想要一副老花镜", "consent": True},
    )
    phone = new_watched(PHONE, is_mobile=True, has_touch=True)
    phone.login(MEMBER, next_path="/party/claim")
    page = phone.page
    page.wait_for_selector("#gm-claim[data-state=ready]")
    item = page.locator(f"#gm-claim-list li[data-type=wish][data-id='{wish['id']}']")
    assert "想要一副老花镜" in item.inner_text()
    assert "米" in page.locator("#gm-claim-list li").first.inner_text()  # nearest first
    item.get_by_role("button", name="认领微心愿").click()
    page.wait_for_function(
        "() => document.getElementById('gm-claim-result').textContent.startsWith('已认领')"
    )
    assert page.locator(f"#gm-claim-list li[data-type=wish][data-id='{wish['id']}']").count() == 0
    claimed = chief_api.get(f"/party/wishes/{wish['id']}")
    assert claimed["state"] == "claimed" and claimed["claimant"]["kind"] == "member"
    # Fulfilled with a photo as proof, from the same page.
    mine = page.locator(f"#gm-claim-mine li[data-mine='{wish['id']}']")
    proof: FilePayload = {"name": "proof.jpg", "mimeType": "image/jpeg", "buffer": image()}
    mine.locator("input[type=file]").set_input_files(proof)
    mine.get_by_role("button", name="上传照片并完成").click()
    page.wait_for_function(
        "() => document.getElementById('gm-claim-result').textContent.startsWith('已提交')"
    )
    fulfilled = chief_api.get(f"/party/wishes/{wish['id']}")
    assert fulfilled["state"] == "fulfilled" and len(fulfilled["photos"]) == 1
    # What the member offers joins the community's 资源清单.
    offer = page.locator("#gm-offer-form")
    offer.get_by_label("类别").select_option("skill")
    offer.get_by_label("资源").fill("周末可上门维修水电（手机）")
    offer.get_by_role("button", name="登记资源").click()
    page.wait_for_function(
        "() => document.getElementById('gm-claim-result').textContent === '资源已登记'"
    )
    titles = [r["title"] for r in chief_api.get("/party/resources")["results"]]
    assert "周末可上门维修水电（手机）" in titles
    phone.screenshot("party_claim.png")
    assert axe_violations(page) == []
    phone.assert_clean()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_chief_sees_the_lists_on_the_map_and_confirms_a_claim(
    new_watched: Callable[..., Watched], chief_api: Api, member_api: Api, viewport: ViewportSize
) -> None:
    community = _community(member_api)
    title = f"帮忙修理门锁（{viewport['width']}）"
    need = _made(
        chief_api, "/party/needs", {"community": community, "kind": "repair", "title": title}
    )
    claim = _made(member_api, f"/party/needs/{need['id']}/claims", {})
    chief = new_watched(viewport)
    chief.login(CHIEF, next_path="/party/lists")
    page = chief.page
    page.wait_for_selector("#gm-lists[data-state=ready]")
    assert "待认领需求" in page.locator(".gm-legend").inner_text()
    assert page.locator("path.leaflet-interactive").count() > 0  # needs and resources
    item = page.locator(f"#gm-lists-matches li[data-match='{claim['match_id']}']")
    assert title in item.inner_text() and "待确认" in item.inner_text()
    item.get_by_role("button", name="确认").click()
    page.wait_for_function(
        f"""() => (document.querySelector("#gm-lists-matches li[data-match='{claim["match_id"]}']")
        || {{textContent: ''}}).textContent.includes('实施中')"""
    )
    assert chief_api.get(f"/party/matches/{claim['match_id']}")["state"] == "confirmed"
    # A worker records a wish with the resident's consent; without it the form will not go.
    wish_title = f"想要一个暖手宝（{viewport['width']}）"
    form = page.locator("#gm-lists-wish-form")
    form.get_by_label("微心愿").fill(wish_title)
    form.get_by_role("button", name="登记微心愿").click()
    assert form.get_by_label("微心愿").input_value() == wish_title  # consent is required
    form.get_by_label("居民已同意公开此心愿").check()
    form.get_by_role("button", name="登记微心愿").click()
    page.wait_for_selector(f"#gm-lists-wishes li:has-text('{wish_title}')")
    recorded = [w for w in chief_api.get("/party/wishes")["results"] if w["title"] == wish_title]
    assert len(recorded) == 1 and recorded[0]["state"] == "open"
    chief.screenshot(f"party_lists_{viewport['width']}.png")
    assert axe_violations(page) == []
    chief.assert_clean()
