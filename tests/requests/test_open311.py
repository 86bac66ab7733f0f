"""Open311 GeoReport v2: services, form-encoded intake, reads, the spec's error shape."""

from __future__ import annotations

from tests.requests.conftest import IN_01001, counts


def _form(**changes):
    form = {
        "service_code": "street.vendor",
        "lat": str(IN_01001[1]),
        "long": str(IN_01001[0]),
        "description": "小区门口有人占道摆摊",
        "first_name": "小明",
        "last_name": "刘",
        "phone": "13712345678",
        "email": "liu@example.com",
        "jurisdiction_id": "ignored",
    }
    return {k: v for k, v in (form | changes).items() if v is not None}


def _assert_open311_error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    [error] = response.get_json()
    assert error["code"] == status and error["description"]
    return error


def test_services_list_the_catalogue(clients):
    client = clients("grid_worker")
    services = client.get("/open311/v2/services.json").get_json()
    vendor = next(s for s in services if s["service_code"] == "street.vendor")
    assert vendor == {
        "service_code": "street.vendor",
        "service_name": "占道经营",
        "description": "占道经营",
        "metadata": False,
        "type": "realtime",
        "keywords": "",
        "group": "街面秩序",
    }
    definition = client.get("/open311/v2/services/street.vendor.json").get_json()
    assert definition == {"service_code": "street.vendor", "attributes": []}
    _assert_open311_error(client.get("/open311/v2/services/no.such.json"), 404)


def test_a_request_filed_by_open311_reaches_the_workers_inbox(clients):
    hotline = clients("chief")  # e.g. the 12345 hotline's connector, scoped to the community
    response = hotline.post("/open311/v2/requests.json", data=_form())
    assert response.status_code == 201, response.get_data(as_text=True)
    [filed] = response.get_json()
    request_id = int(filed["service_request_id"])
    worker = clients("grid_worker")
    inbox = worker.get("/api/v1/requests?mine=true").get_json()["features"]
    assert [f["id"] for f in inbox] == [request_id]
    assert inbox[0]["properties"]["source"] == "open311"
    [shown] = worker.get(f"/open311/v2/requests/{request_id}.json").get_json()
    assert shown["status"] == "open" and shown["service_code"] == "street.vendor"
    assert abs(shown["lat"] - IN_01001[1]) < 1e-6 and abs(shown["long"] - IN_01001[0]) < 1e-6
    # Not in the inbox of the zone leader, who owns nothing.
    assert clients("zone_leader").get("/api/v1/requests?mine=true").get_json()["features"] == []


def test_open311_lists_filter_by_status_and_service(clients):
    client = clients("chief")
    ids = [
        client.post("/open311/v2/requests.json", data=_form()).get_json()[0]["service_request_id"]
        for _ in range(2)
    ]
    listed = client.get("/open311/v2/requests.json?status=open").get_json()
    assert {r["service_request_id"] for r in listed} == set(ids)
    assert client.get("/open311/v2/requests.json?status=closed").get_json() == []
    one = client.get(f"/open311/v2/requests.json?service_request_id={ids[0]}").get_json()
    assert [r["service_request_id"] for r in one] == [ids[0]]
    assert client.get("/open311/v2/requests.json?service_code=ads.flyer").get_json() == []


def test_open311_errors_use_the_specs_shape_and_store_nothing(clients, app, session):
    client = clients("chief")
    before = counts(session)
    for form in (
        _form(service_code=None),
        _form(lat=None),
        _form(lat=None, long=None, address_string="东城区某路1号"),
        _form(lat="north"),
        _form(description="字" * 2001),
        _form(phone="call me"),
    ):
        _assert_open311_error(client.post("/open311/v2/requests.json", data=form), 400)
    error = _assert_open311_error(
        client.post("/open311/v2/requests.json", data=_form(service_code="no.such")), 422
    )
    assert "no.such" in error["description"]
    _assert_open311_error(
        client.post("/open311/v2/requests.json", data=_form(lat="48.85", long="2.35")), 400
    )
    assert counts(session) == before
    _assert_open311_error(app.test_client().get("/open311/v2/services.json"), 401)
    _assert_open311_error(client.get("/open311/v2/requests/999999.json"), 404)
    _assert_open311_error(clients("member").post("/open311/v2/requests.json", data=_form()), 403)
    _assert_open311_error(client.get("/open311/v2/requests.json?status=lost"), 400)
