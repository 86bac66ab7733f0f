"""The pruning of uploads never attached (the worker's hourly ``files`` work) on committed
data, beside another transaction: a photo being attached right now is skipped, not waited
for, and pruned by a later run if it stayed unattached; its bytes go after its row."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.orm import Session

from gridmap.core import clock
from gridmap.files import service as files
from gridmap.files import stores
from gridmap.storage import files as file_store
from gridmap.storage.models import StoredFile
from tests.jobs.conftest import JobsDatabase
from tests.requests.photos import image

DAY = dt.timedelta(hours=24)


def _unattached(session: Session, ids: list[str]) -> int:
    stmt = select(func.count()).where(StoredFile.id.in_(ids))
    return int(session.scalar(stmt) or 0)


def test_a_photo_being_attached_is_skipped_then_pruned(jobs_db: JobsDatabase, tmp_path):
    engine = create_engine(jobs_db.app_url)
    objects = stores.DiskStore(tmp_path / "files")
    user = jobs_db.user_ids["chief"]
    with Session(engine) as session:
        ids = [
            files.upload(
                session, objects, user, "intake", image(), max_bytes=10**6, max_pixels=10**6
            ).id
            for _ in range(2)
        ]
        session.execute(
            update(StoredFile)
            .where(StoredFile.id.in_(ids))
            .values(uploaded_at=clock.now() - dt.timedelta(hours=30))
        )
        session.commit()
    attaching = Session(engine)
    try:
        assert set(file_store.attachable(attaching, [ids[0]], user)) == {ids[0]}  # locked
        with Session(engine) as pruning:
            # Waiting for the lock would fail here rather than hang.
            pruning.execute(text("SET lock_timeout = '3s'"))
            assert files.prune_unattached(pruning, objects, DAY) == 1
            assert _unattached(pruning, ids) == 1
        assert objects.keys() == [f"photos/{ids[0]}", f"thumbnails/{ids[0]}"]
    finally:
        attaching.rollback()  # given up: never attached
        attaching.close()
    with Session(engine) as pruning:
        assert files.prune_unattached(pruning, objects, DAY) == 1
        assert _unattached(pruning, ids) == 0
    assert objects.keys() == []
    engine.dispose()
