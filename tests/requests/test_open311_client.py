"""An existing Open311 client from the package index reads gridmap unmodified.

Of the three GeoReport v2 clients on PyPI, only ``georeport`` (0.3.1) runs on Python 3:
``open311`` 1.1 (2011) imports its own modules the Python 2 way (``from api import API``) and
fails at import, ``three`` 0.8.0 (2013) imports ``itertools.ifilter`` and fails at import.
``georeport`` reads (services, a service definition, requests with filters, one request) in
JSON and XML and sends no ``api_key`` on reads, so it needs public reads
(``GRIDMAP_OPEN311_PUBLIC_READ``); it has no method to file a request, so the request it
reads is filed here as the spec's form POST with an ``api_key``, through ``requests``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI
from georeport import GeoReport
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from gridmap import create_app
from gridmap.core import db
from gridmap.core.settings import Settings
from tests.requests.test_open311_spec import issue, spec_form


@pytest.fixture
def server(
    settings: Settings, session_factory: sessionmaker[Session], staff: None
) -> Iterator[str]:
    """gridmap with public reads, served over HTTP from this test's transaction (one thread:
    the test waits for each answer, so the connection is never used twice at once)."""
    app: OpenAPI = create_app(settings.replace(open311_public_read=True))
    db.use_sessions(app, session_factory)
    served = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{served.server_port}"
    served.shutdown()
    thread.join()


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_the_georeport_client_reads_services_and_requests(
    server: str, admin: FlaskClient, output_format: str
) -> None:
    key = issue(admin)["key"]
    filed = requests.post(f"{server}/open311/v2/requests.json", data=spec_form(key), timeout=30)
    assert filed.status_code == 201, filed.text
    request_id = filed.json()[0]["service_request_id"]

    client = GeoReport(f"{server}/open311/v2", api_key=key, output_format=output_format)
    services = client.get_service_list()
    assert "street.vendor" in {s["service_code"] for s in services}
    assert client.get_service_definition("street.vendor")["service_code"] == "street.vendor"
    found = client.get_service_requests(service_code="street.vendor,ads.flyer", status="open")
    found = [found] if isinstance(found, dict) else found  # xmltodict: one item is no list
    assert [r["service_request_id"] for r in found] == [request_id]
    one = client.get_service_request(request_id)
    assert one["service_request_id"] == request_id and one["status"] == "open"
    assert float(one["lat"]) == pytest.approx(float(spec_form(key)["lat"]))
