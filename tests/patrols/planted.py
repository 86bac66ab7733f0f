"""Patrols planted in the security tests' two communities (``tests.security.conftest``):
patrol 601 of A's worker 3 in A's micro-grid 01001, checked in at A's household 1 (which
member 4 covers), and patrol 611 of B's worker 12 in B's 01001, at B's household 11. Each
walks past its household, so both are reached by check-in and the neighbours by pass-by.
Each worker also logged a visit (民情日志) there: 701 in A, 711 in B."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.access import accounts
from gridmap.patrols import service as patrols
from gridmap.spatial.tracks import RawTrack, clean_track
from gridmap.storage import patrols as store
from gridmap.storage import visits as visit_store
from gridmap.storage.models import Grid, WorkList

#: patrol id → (micro-grid code, worker person id, household id, its lon/lat).
PLANTED = {
    601: ("11010100100101001", 3, 1, (116.405, 39.915)),
    611: ("11010100200301001", 12, 11, (116.445, 39.915)),
}


def plant_patrols(session: Session) -> None:
    """Plant the patrols of ``PLANTED`` (an hour ago) with their work lists and recorders."""
    patrols.seed_work_lists(session)
    weekly = session.scalar(select(WorkList.id).where(WorkList.code == "weekly_visit"))
    began = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    for patrol_id, (micro, person, household, (lon, lat)) in PLANTED.items():
        user = accounts.create_user(session, f"planter-{patrol_id}", "planter-password-1")
        accounts.grant_role(session, user.id, "grid_worker", scope_code=micro, person_id=person)
        grid_id = session.scalar(select(Grid.id).where(Grid.code == micro))
        store.insert_patrol(
            session,
            {
                "id": patrol_id,
                "person_id": person,
                "user_id": user.id,
                "work_list_id": weekly,
                "grid_id": grid_id,
                "source": "upload",
                "started_at": began,
            },
        )
        t = began.timestamp() + np.arange(21, dtype=np.float64) * 5.0
        track = clean_track(
            RawTrack(np.linspace(lon - 0.001, lon + 0.001, 21), np.full(21, lat + 0.0001), t)
        )
        ended = began + dt.timedelta(seconds=100)
        store.finish_patrol(
            session, patrol_id, ended_at=ended, track_wkb=track.wkb(), report=track.report
        )
        values = {
            "patrol_id": patrol_id,
            "household_id": household,
            "at": began + dt.timedelta(seconds=50),
            "note": "已入户，电话13600000000",
        }
        store.add_check_in(session, values, lon, lat)
        store.refresh_reach(session, [patrol_id], 30.0)
        visit_store.insert_visit(
            session,
            values
            | {
                "id": patrol_id + 100,
                "person_id": person,
                "user_id": user.id,
                "channel": "in_person",
                "topics": ["elderly_care"],
            },
        )
