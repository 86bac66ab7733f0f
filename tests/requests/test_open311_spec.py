"""Open311 GeoReport v2 as the spec says: the spec's own example requests in JSON and XML,
API keys (issued, scoped, revoked, audited), public reads, ``address_string``, comma lists,
the 90-day window and the spec's error list everywhere under ``/open311/``."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gridmap import create_app
from gridmap.core import db, glossary
from gridmap.core.settings import Settings
from gridmap.storage.models import ApiKey, AuditEntry, ResidentRequest, User
from tests.conftest import COMMUNITY, ClientFor
from tests.helpers import clock_at, matches_the_document, path_in
from tests.requests.conftest import IN_01001, IN_02002, counts

V2 = "/open311/v2"


def issue(admin: FlaskClient, role: str = "chief", **scope: Any) -> dict[str, Any]:
    body = {"name": "12345热线", "role": role, "scope_code": COMMUNITY} | scope
    response = admin.post("/api/v1/admin/open311-keys", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    issued: dict[str, Any] = response.get_json()
    return issued


@pytest.fixture
def key(admin: FlaskClient, staff: None) -> str:
    """An API key of the community's chief scope, as a hotline connector gets one."""
    return str(issue(admin)["key"])


def xml(response: Any) -> ET.Element:
    assert response.mimetype == "text/xml", response.get_data(as_text=True)
    assert response.get_data(as_text=True).startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.get_data())


def spec_form(key: str, **changes: str | None) -> dict[str, str]:
    """The spec's example POST, its values moved to the small grid's community."""
    form = {
        "api_key": key,
        "jurisdiction_id": "city.gov",
        "service_code": "street.vendor",
        "lat": str(IN_01001[1]),
        "long": str(IN_01001[0]),
        "address_string": "1234 5th street",
        "email": "smit333@sfgov.edu",
        "device_id": "tt222111",
        "account_id": "123456",
        "first_name": "john",
        "last_name": "smith",
        "phone": "111111111",
        "description": "A large sinkhole is destroying the street, call 13712345678",
        "media_url": "http://example.com/image.jpg",
    }
    return {k: v for k, v in (form | changes).items() if v is not None}


def errors_of(response: Any, status: int) -> str:
    """The spec's error list of an answer (JSON or XML): its one description."""
    assert response.status_code == status, response.get_data(as_text=True)
    if response.mimetype == "text/xml":
        root = xml(response)
        assert root.tag == "errors"
        [error] = root.findall("error")
        assert error.findtext("code") == str(status)
        return error.findtext("description") or ""
    assert response.mimetype == "application/json"
    [error] = response.get_json()
    assert set(error) == {"code", "description"} and error["code"] == status
    return str(error["description"])


# ------------------------------------------------------------------- the spec's own examples


def test_get_services_with_an_api_key_in_json_and_xml(app: OpenAPI, key: str) -> None:
    client = app.test_client()  # no login: the key alone
    services = client.get(f"{V2}/services.json?jurisdiction_id=city.gov&api_key={key}")
    assert services.status_code == 200
    vendor = next(s for s in services.get_json() if s["service_code"] == "street.vendor")
    root = xml(client.get(f"{V2}/services.xml?jurisdiction_id=city.gov&api_key={key}"))
    assert root.tag == "services"
    found = {s.findtext("service_code"): s for s in root.findall("service")}
    assert set(found) == {s["service_code"] for s in services.get_json()}
    element = found["street.vendor"]
    assert [c.tag for c in element] == list(vendor)
    assert element.findtext("service_name") == "占道经营"
    assert element.findtext("metadata") == "false" and element.findtext("type") == "realtime"
    definition = xml(client.get(f"{V2}/services/street.vendor.xml?api_key={key}"))
    assert definition.tag == "service_definition"
    assert definition.findtext("service_code") == "street.vendor"
    assert definition.find("attributes") is not None


def test_post_a_request_form_encoded_with_an_api_key_then_read_it(
    app: OpenAPI, key: str, session: Session
) -> None:
    client = app.test_client()
    filed = client.post(f"{V2}/requests.xml", data=spec_form(key))
    assert filed.status_code == 201
    root = xml(filed)
    assert root.tag == "service_requests"
    [request] = root.findall("request")
    request_id = request.findtext("service_request_id") or ""
    assert request_id.isdigit() and request.find("service_notice") is not None
    row = session.get(ResidentRequest, int(request_id))
    assert row is not None and row.source == "open311" and row.contact_name == "smithjohn"
    # The key's own account filed it, and the audit log names it.
    account = session.get(User, row.created_by)
    assert account is not None and account.username.startswith("apikey-")
    audited = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "request.create", AuditEntry.object_id == request_id
        )
    ).one()
    assert audited.username == account.username

    # GET requests with the spec's filters (a window within 90 days, open).
    now = dt.datetime.now(dt.UTC)
    window = f"start_date={(now - dt.timedelta(days=5)):%Y-%m-%dT%H:%M:%SZ}"
    window += f"&end_date={(now + dt.timedelta(days=1)):%Y-%m-%dT%H:%M:%SZ}"
    listed = xml(client.get(f"{V2}/requests.xml?{window}&status=open&api_key={key}"))
    assert [r.findtext("service_request_id") for r in listed.findall("request")] == [request_id]
    as_json = client.get(f"{V2}/requests.json?{window}&status=open&api_key={key}").get_json()
    assert [r["service_request_id"] for r in as_json] == [request_id]
    closed = xml(client.get(f"{V2}/requests.xml?{window}&status=closed&api_key={key}"))
    assert closed.findall("request") == []

    # GET one request, both formats, the same fields in the spec's order.
    [one] = xml(client.get(f"{V2}/requests/{request_id}.xml?api_key={key}")).findall("request")
    [same] = client.get(f"{V2}/requests/{request_id}.json?api_key={key}").get_json()
    assert [c.tag for c in one] == list(same)
    assert one.findtext("status") == "open" == same["status"]
    assert one.findtext("service_code") == "street.vendor"
    assert float(one.findtext("lat") or 0) == pytest.approx(IN_01001[1])
    assert float(one.findtext("long") or 0) == pytest.approx(IN_01001[0])
    assert one.findtext("media_url") == "http://example.com/image.jpg"
    # Masked as every answer is: the phone in the text, the address after the community.
    assert "137****5678" in (one.findtext("description") or "")
    assert "13712345678" not in filed.get_data(as_text=True) + str(same)
    assert same["address"] == "测试社区*号楼***"  # household 1 is at the point
    # A token is the request's id.
    [token] = xml(client.get(f"{V2}/tokens/{request_id}.xml?api_key={key}")).findall("request")
    assert token.findtext("service_request_id") == request_id


def test_post_in_json_and_the_spec_fields_it_ignores(app: OpenAPI, key: str) -> None:
    client = app.test_client()
    response = client.post(f"{V2}/requests.json", data=spec_form(key, description=None))
    assert response.status_code == 201, response.get_data(as_text=True)
    [filed] = response.get_json()
    assert set(filed) == {"service_request_id", "service_notice", "account_id"}
    [shown] = client.get(
        f"{V2}/requests/{filed['service_request_id']}.json?api_key={key}"
    ).get_json()
    assert shown["description"] == glossary.NO_DESCRIPTION  # description is optional


# --------------------------------------------------------------------------------- API keys


def test_keys_are_issued_listed_revoked_and_audited(
    app: OpenAPI, admin: FlaskClient, staff: None, session: Session
) -> None:
    issued = issue(admin, role="zone_leader", scope_code=COMMUNITY + "02")
    key = issued["key"]
    assert key.startswith("gm311_") and issued["key_prefix"] == key[:10]
    stored = session.get(ApiKey, issued["id"])
    assert stored is not None and key not in (stored.key_hash, stored.key_prefix)
    listed = admin.get("/api/v1/admin/open311-keys").get_json()["keys"]
    assert [k["id"] for k in listed] == [issued["id"]]
    assert key not in str(listed) and listed[0]["revoked_at"] is None
    client = app.test_client()
    assert client.get(f"{V2}/services.json?api_key={key}").status_code == 200

    assert admin.post(f"/api/v1/admin/open311-keys/{issued['id']}/revoke").status_code == 200
    description = errors_of(client.get(f"{V2}/services.xml?api_key={key}"), 403)
    assert "api_key" in description
    errors_of(client.post(f"{V2}/requests.json", data=spec_form(key)), 403)
    again = admin.post(f"/api/v1/admin/open311-keys/{issued['id']}/revoke")
    assert again.status_code == 409
    assert admin.get("/api/v1/admin/open311-keys").get_json()["keys"][0]["revoked_at"]
    actions = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.object_type == "api_key", AuditEntry.object_id == str(issued["id"])
        )
    ).all()
    assert sorted(actions) == ["api_key.issue", "api_key.revoke"]
    detail = session.scalars(
        select(AuditEntry.detail).where(AuditEntry.action == "api_key.issue")
    ).one()
    assert detail["scope_code"] == COMMUNITY + "02" and key not in str(detail)


def test_only_the_system_administrator_issues_keys_and_scopes_are_checked(
    admin: FlaskClient, clients: ClientFor
) -> None:
    body = {"name": "app", "role": "chief", "scope_code": COMMUNITY}
    assert clients("street_admin").post("/api/v1/admin/open311-keys", json=body).status_code == 403
    assert clients("street_admin").get("/api/v1/admin/open311-keys").status_code == 403
    for wrong in (
        {"role": "system_admin"},
        {"role": "chief", "scope_code": None},
        {"role": "member", "scope_code": None},
        {"name": ""},
    ):
        response = admin.post("/api/v1/admin/open311-keys", json=body | wrong)
        assert response.status_code == 400, wrong
    assert admin.post("/api/v1/admin/open311-keys/999/revoke").status_code == 404


def test_a_key_acts_in_its_role_and_scope(
    app: OpenAPI, admin: FlaskClient, key: str, session: Session
) -> None:
    client = app.test_client()
    mine = client.post(f"{V2}/requests.json", data=spec_form(key)).get_json()
    request_id = mine[0]["service_request_id"]
    other = issue(admin, role="zone_leader", scope_code=COMMUNITY + "02")["key"]
    errors_of(client.get(f"{V2}/requests/{request_id}.json?api_key={other}"), 404)
    assert client.get(f"{V2}/requests.json?api_key={other}").get_json() == []
    # Filing outside the key's scope: the point is in zone 01.
    before = counts(session)
    errors_of(client.post(f"{V2}/requests.json", data=spec_form(other)), 422)
    member = issue(admin, role="member", scope_code=None, person_id=4)["key"]
    errors_of(client.post(f"{V2}/requests.json", data=spec_form(member)), 403)
    assert counts(session) == before
    errors_of(client.post(f"{V2}/requests.json", data=spec_form("gm311_nonsense")), 403)
    errors_of(client.get(f"{V2}/requests.json?api_key=nonsense"), 403)


# ------------------------------------------------------------------------------ public reads


@pytest.fixture
def public_app(settings: Settings, session_factory: sessionmaker[Session]) -> OpenAPI:
    app = create_app(settings.replace(open311_public_read=True))
    app.config["TESTING"] = True
    db.use_sessions(app, session_factory)
    return app


def test_public_reads_when_the_deployment_allows_them(
    app: OpenAPI, public_app: OpenAPI, key: str
) -> None:
    app.test_client().post(f"{V2}/requests.json", data=spec_form(key))
    anyone = public_app.test_client()
    assert anyone.get(f"{V2}/services.json").status_code == 200
    assert xml(anyone.get(f"{V2}/services.xml")).findall("service")
    [shown] = anyone.get(f"{V2}/requests.json").get_json()
    assert "13712345678" not in str(shown) and shown["address"] == "测试社区*号楼***"
    assert anyone.get(f"{V2}/requests/{shown['service_request_id']}.xml").status_code == 200
    # Writing still needs a key; with the setting off, reading does too.
    errors_of(anyone.post(f"{V2}/requests.json", data=spec_form(key, api_key=None)), 401)
    errors_of(app.test_client().get(f"{V2}/services.json"), 401)
    errors_of(app.test_client().get(f"{V2}/requests.xml"), 401)


def test_discovery_is_public_in_both_formats(app: OpenAPI) -> None:
    client = app.test_client()
    found = client.get("/open311/discovery.json").get_json()
    [endpoint] = found["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and "text/xml" in endpoint["formats"]
    root = xml(client.get("/open311/discovery.xml"))
    assert root.tag == "discovery"
    formats = root.findall("endpoints/endpoint/formats/format")
    assert [f.text for f in formats] == ["text/xml", "application/json"]


# --------------------------------------------------------------------------- address_string


@pytest.mark.parametrize(
    ("address", "household"),
    [
        ("测试社区1号楼101", 1),
        (" 测试社区 1号楼-101 ", 1),  # spaces and ASCII punctuation ignored
        ("测试社区１号楼１０１", 1),  # full-width digits
        ("测试社区1号楼", None),  # the building: its households' centre
    ],
)
def test_address_string_alone_is_found_among_households_and_buildings(
    app: OpenAPI, key: str, session: Session, address: str, household: int | None
) -> None:
    form = spec_form(key, lat=None, long=None, address_string=address)
    response = app.test_client().post(f"{V2}/requests.json", data=form)
    assert response.status_code == 201, response.get_data(as_text=True)
    row = session.get(ResidentRequest, int(response.get_json()[0]["service_request_id"]))
    assert row is not None and row.household_id == household
    [shown] = app.test_client().get(f"{V2}/requests/{row.id}.json?api_key={key}").get_json()
    assert shown["lat"] == pytest.approx(IN_01001[1], abs=1e-6)
    assert shown["address"] == "测试社区*号楼***"


def test_an_address_that_cannot_be_found_is_an_honest_400(
    app: OpenAPI, admin: FlaskClient, key: str, session: Session
) -> None:
    before, client = counts(session), app.test_client()
    for address in ("东城区某路1号", "测试社区9号楼101", "测试社区1号楼"[:3]):
        form = spec_form(key, lat=None, long=None, address_string=address)
        assert address in errors_of(client.post(f"{V2}/requests.json", data=form), 400)
    # Outside the key's scope, the household is not found either.
    other = issue(admin, role="zone_leader", scope_code=COMMUNITY + "02")["key"]
    form = spec_form(other, lat=None, long=None, address_string="测试社区1号楼101")
    assert "测试社区1号楼101" in errors_of(client.post(f"{V2}/requests.xml", data=form), 400)
    assert counts(session) == before


# ----------------------------------------------------------- comma lists and the 90 days


def test_comma_lists_and_the_ninety_day_window(app: OpenAPI, key: str) -> None:
    client = app.test_client()

    def post(code: str, point: tuple[float, float] = IN_01001) -> str:
        form = spec_form(key, service_code=code, lat=str(point[1]), long=str(point[0]))
        response = client.post(f"{V2}/requests.json", data=form)
        assert response.status_code == 201, response.get_data(as_text=True)
        return str(response.get_json()[0]["service_request_id"])

    old_moment = dt.datetime.now(dt.UTC) - dt.timedelta(days=120)
    with clock_at(old_moment):
        old = post("street.vendor")
    vendor, garbage, flyer = (
        post("street.vendor"),
        post("sanitation.garbage", IN_02002),
        post("ads.flyer"),
    )

    def ids(query: str) -> set[str]:
        found = client.get(f"{V2}/requests.json?api_key={key}&{query}")
        assert found.status_code == 200, found.get_data(as_text=True)
        return {r["service_request_id"] for r in found.get_json()}

    assert ids("") == {vendor, garbage, flyer}  # the last 90 days
    assert ids("service_code=street.vendor,sanitation.garbage") == {vendor, garbage}
    assert ids(f"service_request_id={old},{flyer}") == {old, flyer}  # ids override the window
    start = (old_moment - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(f"start_date={start}") == {old}  # 90 days from the start
    end = (old_moment + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(f"end_date={end}") == {old}  # 90 days up to the end
    too_wide = client.get(
        f"{V2}/requests.json?api_key={key}&start_date={start}&end_date=2099-01-01"
    )
    assert "90 days" in errors_of(too_wide, 400)


# ----------------------------------------------------------------------- the spec's errors


def test_every_error_under_open311_is_the_specs_list(app: OpenAPI, key: str) -> None:
    client = app.test_client()
    errors_of(client.get(f"{V2}/requests.json?api_key={key}&status=lost"), 400)
    errors_of(client.get(f"{V2}/requests.xml?api_key={key}&status=lost"), 400)
    errors_of(client.get(f"{V2}/requests.xml?api_key={key}&start_date=yesterday"), 400)
    errors_of(client.get(f"{V2}/services.xml?api_key=gm311_unknown"), 403)
    errors_of(client.get(f"{V2}/requests/999999.xml?api_key={key}"), 404)
    errors_of(client.get(f"{V2}/services/no.such.xml?api_key={key}"), 404)
    # Outside the routes: unknown paths and formats, wrong methods.
    errors_of(client.get(f"{V2}/nothing.xml"), 404)
    errors_of(client.get("/open311/nothing"), 404)
    errors_of(client.get(f"{V2}/services.csv"), 404)
    errors_of(client.delete(f"{V2}/services.json"), 405)
    errors_of(client.put(f"{V2}/requests.xml", data=spec_form(key)), 405)
    # Text no XML can carry, in a request filed through the JSON API, still parses.
    errors_of(client.post(f"{V2}/requests.json", data=spec_form(key, media_url="http://x/\0")), 400)
    errors_of(client.post(f"{V2}/requests.json", data=spec_form(key, media_url="http://[x/")), 400)


def test_xml_escapes_what_the_text_holds(app: OpenAPI, key: str, clients: ClientFor) -> None:
    body = {
        "category": "street.vendor",
        "description": '<b>摊位</b> & "占道" \x01 ]]>',
        "location": {"lon": IN_01001[0], "lat": IN_01001[1], "crs": "EPSG:4326"},
    }
    filed = clients("chief").post("/api/v1/requests", json=body)
    assert filed.status_code == 201, filed.get_data(as_text=True)
    response = app.test_client().get(f"{V2}/requests/{filed.get_json()['id']}.xml?api_key={key}")
    [request] = xml(response).findall("request")
    assert request.findtext("description") == '<b>摊位</b> & "占道" \ufffd ]]>'


# -------------------------------------------------------------------------- the document


def test_every_answer_and_error_is_what_the_document_says(
    app: OpenAPI, key: str, clients: ClientFor
) -> None:
    """Success and error, JSON and XML, with a key and with a login: each answer matches the
    OpenAPI document (its schema, its XML element names, its headers)."""
    spec = app.test_client().get("/api/openapi.json").get_json()
    client, worker, nobody = app.test_client(), clients("grid_worker"), app.test_client()
    for fmt in ("json", "xml"):
        filed = client.post(f"{V2}/requests.{fmt}", data=spec_form(key))
        refused = client.post(f"{V2}/requests.{fmt}", data=spec_form(key, service_code="no.s"))
        assert (filed.status_code, refused.status_code) == (201, 422)
        for answer in (filed, refused):
            matches_the_document(spec, "post", f"{V2}/requests.{{fmt}}", answer)
        listed = client.get(f"{V2}/requests.json?api_key={key}").get_json()
        one = max(int(r["service_request_id"]) for r in listed)
        for caller, url, status in (
            (nobody, f"/open311/discovery.{fmt}", 200),
            (client, f"{V2}/services.{fmt}?api_key={key}", 200),
            (worker, f"{V2}/services/street.vendor.{fmt}", 200),
            (worker, f"{V2}/requests.{fmt}", 200),
            (client, f"{V2}/requests/{one}.{fmt}?api_key={key}", 200),
            (worker, f"{V2}/tokens/{one}.{fmt}", 200),
            (worker, f"{V2}/requests.{fmt}?status=lost", 400),
            (nobody, f"{V2}/services.{fmt}", 401),
            (nobody, f"{V2}/services.{fmt}?api_key=gm311_unknown", 403),
            (worker, f"{V2}/requests/999999.{fmt}", 404),
        ):
            answer = caller.get(url)
            assert answer.status_code == status, (url, answer.get_data(as_text=True))
            matches_the_document(spec, "get", path_in(spec, url), answer)


def test_public_reads_take_credentials_or_none_in_the_document(
    app: OpenAPI, public_app: OpenAPI
) -> None:
    closed = app.test_client().get("/api/openapi.json").get_json()["paths"]
    opened = public_app.test_client().get("/api/openapi.json").get_json()["paths"]
    login_or_key: list[dict[str, list[str]]] = [{"bearer": []}, {"api_key": []}]
    for path in (f"{V2}/services.{{fmt}}", f"{V2}/requests/{{request_id}}.{{fmt}}"):
        assert closed[path]["get"]["security"] == login_or_key
        assert opened[path]["get"]["security"] == [*login_or_key, {}]
    # Filing always needs credentials; the discovery never.
    assert opened[f"{V2}/requests.{{fmt}}"]["post"]["security"] == login_or_key
    assert opened["/open311/discovery.{fmt}"]["get"]["security"] == []
