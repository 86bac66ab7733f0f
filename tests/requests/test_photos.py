"""Photos (照片): uploads checked by content and stored without EXIF on the disk or in a real
S3-compatible server (SeaweedFS), served only within the scope of what they belong to, the
"after" photo a category can require, Open311's media_url, and 300 hostile files refused
with nothing stored."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask_openapi3 import OpenAPI
from PIL import Image
from sqlalchemy import update
from sqlalchemy.orm import Session

from gridmap import cli
from gridmap.core import clock
from gridmap.core.settings import Settings, SettingsError
from gridmap.files import service as files
from gridmap.files import stores
from gridmap.storage import files as file_store
from gridmap.storage.models import Category, StoredFile
from tests.helpers import assert_problem
from tests.requests.conftest import act, file, intake_body
from tests.requests.photos import dms, gps_exif, hostile_files, image, upload, uploaded
from tests.seaweed import ACCESS_KEY, SECRET_KEY


@pytest.fixture(params=["disk", "s3"])
def objects(request: pytest.FixtureRequest, app: OpenAPI, tmp_path: Any) -> stores.ObjectStore:
    """The app's object store: a directory of its own, or a bucket of its own in SeaweedFS."""
    store: stores.ObjectStore
    if request.param == "disk":
        store = stores.DiskStore(tmp_path / "files")
    else:
        endpoint = request.getfixturevalue("seaweedfs")
        prefix = f"t-{uuid.uuid4().hex[:20]}/"
        store = stores.S3Store(
            endpoint, "gridmap-tests", ACCESS_KEY, SECRET_KEY, "us-east-1", prefix
        )
    app.extensions["gridmap.files"] = store
    return store


def test_a_photo_is_stored_without_exif_and_keeps_its_place_and_time(clients, objects):
    worker = clients("grid_worker")
    exif = gps_exif(dms(39.915), "N", dms(116.405), "E", taken="2026:12:03 16:41:00")
    exif[0x0112] = 6  # rotated: the stored pixels are turned upright
    sent = image("JPEG", (80, 40), exif)
    answer = uploaded(worker, sent)
    assert answer["media_type"] == "image/jpeg" and answer["purpose"] == "intake"
    assert (answer["width"], answer["height"]) == (40, 80)
    assert answer["exif"]["taken_at"] == "2026-12-03T16:41:00"
    assert answer["exif"]["gps"] == pytest.approx({"lon": 116.405, "lat": 39.915}, abs=1e-5)
    assert len(answer["sha256"]) == 64
    served = worker.get(answer["url"])
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"].startswith("inline; filename=")
    stored = Image.open(io.BytesIO(served.data))
    assert dict(stored.getexif()) == {} and stored.size == (40, 80)
    thumb = worker.get(answer["thumbnail_url"])
    assert thumb.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.data)).size) <= 320
    assert sorted(objects.keys()) == [f"photos/{answer['id']}", f"thumbnails/{answer['id']}"]


def test_impossible_gps_is_left_out_with_a_note(clients, objects):
    exif = gps_exif(dms(89.0), "N", dms(0.0), "E")
    exif[0x8825][2] = (95, 0, 0)
    worker = clients("grid_worker")
    answer = uploaded(worker, image("PNG", exif=exif))
    assert "gps" not in answer["exif"]
    assert "not a place" in answer["exif"]["notes"][0]
    served = worker.get(answer["url"])
    assert served.mimetype == "image/png"
    assert dict(Image.open(io.BytesIO(served.data)).getexif()) == {}


def test_a_photo_is_seen_only_where_its_request_is(clients, objects, session):
    worker = clients("grid_worker")
    photo = uploaded(worker, image())
    # Unattached, it is its uploader's alone.
    assert_problem(clients("chief").get(photo["url"]), 404)
    filed = file(worker, photos=[photo["id"]])
    assert filed["photos"] == [photo["id"]]
    assert clients("chief").get(photo["url"]).status_code == 200
    assert clients("zone_leader").get(photo["thumbnail_url"]).status_code == 200
    assert_problem(clients("zone_leader_02").get(photo["url"]), 404)
    assert_problem(clients("zone_leader_02").get(photo["thumbnail_url"]), 404)
    # Another's upload, or an id never uploaded, cannot be attached.
    other = uploaded(clients("chief"), image())
    assert_problem(
        worker.post("/api/v1/requests", json=_intake([other["id"]])), 422, "not a photo you"
    )
    assert_problem(worker.post("/api/v1/requests", json=_intake([photo["id"]])), 422, "belongs")
    georeport = clients("chief").get(f"/open311/v2/requests/{filed['id']}.json").get_json()
    assert georeport[0]["media_url"].endswith(photo["url"])


def _intake(photos: list[str]) -> dict[str, Any]:
    return intake_body(photos=photos)


def test_a_category_can_require_an_after_photo(clients, objects, session: Session):
    session.execute(
        update(Category)
        .where(Category.code == "sanitation.garbage", Category.valid_to.is_(None))
        .values(requires_after_photo=True)
    )
    session.commit()
    worker = clients("grid_worker")
    r = file(worker)
    r = act(worker, r["id"], r["etag"], action="accept").get_json()
    before = uploaded(worker, image(), "before")
    started = act(worker, r["id"], r["etag"], action="start", photos=[before["id"]])
    assert started.status_code == 200, started.get_data(as_text=True)
    r = started.get_json()
    refused = act(worker, r["id"], r["etag"], action="complete")
    assert_problem(refused, 409, "处置后照片")
    assert refused.get_json()["code"] == "after-photo-missing"
    after = uploaded(worker, image("WEBP"), "after")
    done = act(worker, r["id"], r["etag"], action="complete", photos=[after["id"]])
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["timeline"][-1]["photos"] == [after["id"]]


def test_hostile_files_are_refused_and_nothing_is_stored(clients, objects, session):
    worker = clients("grid_worker")
    files = hostile_files(300)
    assert len(files) == 300
    assert {k for k, _, _ in files} >= {
        "wrong-type",
        "bomb",
        "too-large",
        "svg",
        "polyglot",
        "bad-gps",
        "truncated",
        "empty",
    }
    for kind, name, data in files:
        response = upload(worker, data, name=name)
        assert 400 <= response.status_code < 500, (kind, name, response.status_code)
        assert response.mimetype == "application/problem+json", (kind, name)
        assert response.get_json()["detail"], (kind, name)
    assert file_store.count_files(session) == 0
    assert objects.keys() == []


def test_the_store_is_the_disk_under_var_unless_s3_is_configured():
    store = stores.from_settings(Settings())
    assert isinstance(store, stores.DiskStore)
    assert store.root == Path(__file__).resolve().parents[2] / "var" / "files"
    with pytest.raises(SettingsError, match="S3_ENDPOINT_URL"):
        Settings(file_store="s3")
    s3 = stores.from_settings(
        Settings(file_store="s3", s3_endpoint_url="http://127.0.0.1:9", s3_prefix="gm/")
    )
    assert isinstance(s3, stores.S3Store) and (s3.bucket, s3.prefix) == ("gridmap-files", "gm/")


def test_a_store_that_fails_keeps_no_row(clients, app, session):
    """The S3 store unreachable: 503, and the row written before the put is rolled back."""
    app.extensions["gridmap.files"] = stores.S3Store(
        "http://127.0.0.1:9", "gridmap-files", ACCESS_KEY, SECRET_KEY, "us-east-1"
    )
    assert_problem(upload(clients("grid_worker"), image()), 503, "file store")
    assert file_store.count_files(session) == 0


def _saved(picture: Image.Image, kind: str, **options: Any) -> bytes:
    out = io.BytesIO()
    picture.save(out, kind, **options)
    return out.getvalue()


def test_photos_as_phones_and_editors_write_them_are_accepted(clients, app, tmp_path):
    """No false alarm: progressive and optimised JPEGs, one followed by its preview image
    (MPF, as phones append), grey and CMYK JPEGs, a PNG with alpha, a lossless WebP."""
    app.extensions["gridmap.files"] = stores.DiskStore(tmp_path / "files")
    rgb = Image.open(io.BytesIO(image("PNG", (300, 200))))
    jpeg = _saved(rgb, "JPEG")
    photos = {
        "progressive": _saved(rgb, "JPEG", progressive=True, optimize=True),
        "restart markers": _saved(rgb, "JPEG", restart_marker_blocks=1),
        "with its preview": jpeg + _saved(rgb.resize((60, 40)), "JPEG"),
        "padded": jpeg + b"\x00" * 64,
        "grey": _saved(rgb.convert("L"), "JPEG"),
        "cmyk": _saved(rgb.convert("CMYK"), "JPEG"),
        "alpha": _saved(rgb.convert("RGBA"), "PNG"),
        "lossless webp": _saved(rgb, "WEBP", lossless=True),
    }
    worker = clients("grid_worker")
    for name, data in photos.items():
        response = upload(worker, data)
        assert response.status_code == 201, (name, response.get_data(as_text=True))
        assert (response.get_json()["width"], response.get_json()["height"]) == (300, 200)


def _age(session: Session, file_id: str, hours: float) -> None:
    session.execute(
        update(StoredFile)
        .where(StoredFile.id == file_id)
        .values(uploaded_at=clock.now() - dt.timedelta(hours=hours))
    )
    session.commit()


def test_uploads_never_attached_are_pruned_with_their_bytes(clients, objects, session):
    worker = clients("grid_worker")
    old = uploaded(worker, image())
    attached = uploaded(worker, image("PNG"))
    fresh = uploaded(worker, image("WEBP"))
    file(worker, photos=[attached["id"]])
    for photo in (old, attached):
        _age(session, photo["id"], 25)
    _age(session, fresh["id"], 23)

    removed = files.prune_unattached(session, objects, dt.timedelta(hours=24))

    assert removed == 1
    assert file_store.get_file(session, old["id"]) is None
    kept = {attached["id"], fresh["id"]}
    stored = objects.keys()
    assert sorted(stored) == sorted(
        f"{kind}/{i}" for kind in ("photos", "thumbnails") for i in kept
    )
    assert_problem(worker.get(old["url"]), 404)
    assert worker.get(fresh["url"]).status_code == 200
    # Nothing more to prune: a second run removes nothing.
    assert files.prune_unattached(session, objects, dt.timedelta(hours=24)) == 0


def test_the_worker_prunes_unattached_uploads_every_hour(clients, app, session, tmp_path):
    settings = app.extensions["gridmap.settings"].model_copy(
        update={"files_dir": str(tmp_path / "files"), "files_unattached_hours": 2}
    )
    app.extensions["gridmap.files"] = stores.from_settings(settings)
    worker = clients("grid_worker")
    old, fresh = uploaded(worker, image()), uploaded(worker, image())
    _age(session, old["id"], 3)
    _age(session, fresh["id"], 1)

    cron, work = cli.scheduled_work(settings)["files"]

    assert cron == "0 * * * *"
    assert work(session) == 1
    assert file_store.get_file(session, fresh["id"]) is not None
    assert sorted(p.name for p in (tmp_path / "files").rglob("*") if p.is_file()) == sorted(
        [fresh["id"], fresh["id"]]
    )


def test_an_upload_with_an_idempotency_key_is_stored_once(clients, objects, session):
    worker = clients("grid_worker")
    data = image()
    first = upload(worker, data, key="photo-1")
    again = upload(worker, data, key="photo-1")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert file_store.count_files(session) == 1 and len(objects.keys()) == 2
    other = upload(worker, image("PNG"), key="photo-1")
    assert_problem(other, 422, "different request body")
    assert file_store.count_files(session) == 1
