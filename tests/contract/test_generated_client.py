"""A client generated from the document (openapi-python-client, pinned in requirements.txt)
reads grids and files a request against the served app: the document is enough to use the
API. The client is generated at test time into the test's directory, never committed.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.conftest import COMMUNITY
from tests.requests.conftest import IN_01001
from tests.resilience.conftest import Deployment

#: Media types the generator has no parser for, read as bytes (files and tiles).
CONFIG = """\
content_type_overrides:
  application/vnd.mapbox-vector-tile: application/octet-stream
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: application/octet-stream
  application/gpx+xml: application/octet-stream
  text/csv: application/octet-stream
"""
PACKAGE = "gridmap_generated_client"


def _generate(base: str, where: Path) -> ModuleType:
    with urllib.request.urlopen(f"{base}/api/openapi.json", timeout=30) as answer:
        document = json.load(answer)
    (where / "openapi.json").write_text(json.dumps(document))
    (where / "config.yaml").write_text(CONFIG)
    command = [
        str(Path(sys.executable).parent / "openapi-python-client"),
        "generate",
        "--path",
        str(where / "openapi.json"),
        "--output-path",
        str(where / PACKAGE),
        "--meta",
        "none",
        "--config",
        str(where / "config.yaml"),
    ]
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))


def _operation(package: ModuleType, tag: str, name: str) -> Any:
    """The generated module of an operation, by its tag and the start of its name."""
    folder = Path(package.__file__ or "").parent / "api" / tag
    found = [p.stem for p in folder.glob(f"{tag}_{name}*.py")]
    assert len(found) == 1, (tag, name, found)
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{found[0]}")


def test_a_generated_client_reads_grids_and_files_a_request(
    served: Deployment, tmp_path: Path
) -> None:
    package = _generate(served.base_url, tmp_path)

    def client(account: str) -> Any:
        token = served.tokens[account]
        return package.AuthenticatedClient(
            base_url=served.base_url, token=token, raise_on_unexpected_status=True
        )

    with client("street") as street, client("worker") as worker:
        _read_grids(package, street)
        _file_a_request(package, worker)


def _read_grids(package: ModuleType, street: Any) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    list_grids = _operation(package, "grids", "list_grids")
    page = list_grids.sync_detailed(client=street, limit=3)
    assert page.status_code == 200
    assert isinstance(page.parsed, models.FeatureCollection)
    assert page.parsed.number_returned == 3 and page.parsed.next_ is not None
    rest = list_grids.sync(client=street, cursor=page.parsed.next_)
    assert {f.id for f in page.parsed.features} | {f.id for f in rest.features} >= {
        COMMUNITY,
        COMMUNITY + "01001",
    }
    one = _operation(package, "grids", "get_grid").sync(client=street, code=COMMUNITY + "01001")
    assert isinstance(one, models.Feature) and one.properties["level"] == "micro"


def _file_a_request(package: ModuleType, worker: Any) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    categories = _operation(package, "categories", "list_categories").sync(client=worker)
    code = categories.categories[0].code
    create = _operation(package, "requests", "create_request")
    body = {
        "category": code,
        "description": "楼道堆放杂物（generated client）",
        "location": {"lon": IN_01001[0], "lat": IN_01001[1]},
    }
    filed = create.sync_detailed(client=worker, body=body, idempotency_key="generated-client-1")
    assert filed.status_code == 201, filed.content
    assert isinstance(filed.parsed, models.RequestDetail)
    assert filed.parsed.state == "reported"
    # The header names the compressed representation (":br"); If-Match takes either.
    assert filed.headers["ETag"].startswith(filed.parsed.etag[:-1])
    # An error is a Problem the client reads, not a crash.
    refused = create.sync_detailed(client=worker, body=body | {"household_id": 1})
    assert refused.status_code == 400 and isinstance(refused.parsed, models.Problem)
    assert refused.parsed.code == "invalid-input"
