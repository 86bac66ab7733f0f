"""Hand-built request timelines: requests filed and moved through the closed loop by the
domain functions, with the clock (``gridmap.core.clock``) set to chosen moments.

The ``desk`` fixture (conftest.py) files the timelines of test_rates.py's table.
"""

from __future__ import annotations

import datetime as dt

from gridmap.access import accounts
from gridmap.access.auth import Caller, scope_of
from gridmap.core.clock import BEIJING
from gridmap.requests import service as domain
from tests.conftest import COMMUNITY, PASSWORD
from tests.helpers import clock_at

SH = BEIJING
M1, M2, M3, M4 = (COMMUNITY + c for c in ("01001", "01002", "02001", "02002"))


def at(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, minute, tzinfo=SH)


def nov(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return at(11, day, hour, minute)


class Desk:
    """Files and moves requests as chosen people, at chosen moments."""

    def __init__(self, session, monkeypatch) -> None:
        self.session, self.monkeypatch = session, monkeypatch
        self.revision: dict[int, int] = {}

    def caller(self, name: str, role: str, **scope: object) -> Caller:
        user = accounts.create_user(self.session, name, PASSWORD)
        accounts.grant_role(self.session, user.id, role, admins_too=True, **scope)  # type: ignore[arg-type]
        self.session.flush()
        return Caller(user.id, user.username, role, scope_of(user), 0, "bearer")

    def file(self, who: Caller, point: tuple[float, float], moment: dt.datetime) -> int:
        new = domain.NewRequest("sanitation.garbage", "垃圾满溢", "api", *point)
        with clock_at(moment):
            rid = domain.intake(self.session, new, who)
        self.revision[rid] = 0
        return rid

    def act(self, rid: int, who: Caller, moment: dt.datetime, action: str, **args: object) -> None:
        change = domain.Change(action, **args)  # type: ignore[arg-type]
        tag = domain.etag(rid, self.revision[rid])
        with clock_at(moment):
            self.revision[rid] = domain.act(self.session, rid, change, who, tag)
