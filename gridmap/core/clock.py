"""The one clock: every "now" and "today" that a page, an API answer or a rule reads.

Times are stored in UTC and shown in Beijing time (:data:`BEIJING`). Everything that asks for
the current moment calls :func:`now` (or :func:`today`, the date in Beijing), so a test sets
the moment once (``monkeypatch.setattr(clock, "now", ...)``) and pages, API answers and rules
agree on it: a page that opens on "last month" opens on the month the test's data is in,
whatever the machine's date. Login sessions are the exception: their timeouts follow the wall
clock (:mod:`gridmap.access.auth`), because they protect real accounts.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

#: China Standard Time, the time zone users read (Asia/Shanghai, UTC+8, no daylight saving).
BEIJING = ZoneInfo("Asia/Shanghai")


#: The one way a time is written for people, in Beijing time: pages, reports, notices and
#: downloads alike ("2026-12-03 16:41"; a date alone is its first half). The page scripts
#: write the same (``static/js/core/format.js``), Excel cells the same number format.
DATE_TIME = "%Y-%m-%d %H:%M"
#: The same with seconds, where they tell events apart (the audit log).
DATE_TIME_SECONDS = "%Y-%m-%d %H:%M:%S"
EXCEL_DATE_TIME = "yyyy-mm-dd hh:mm"


def local_text(moment: dt.datetime | None, *, seconds: bool = False) -> str:
    """``moment`` as people read it (:data:`DATE_TIME`, Beijing time); no time: ""."""
    if moment is None:
        return ""
    return moment.astimezone(BEIJING).strftime(DATE_TIME_SECONDS if seconds else DATE_TIME)


def now() -> dt.datetime:
    """The current moment, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today's date in Beijing."""
    return now().astimezone(BEIJING).date()


#: The years a date, time or period given as input may fall in: one rule for every query
#: parameter, body and page filter. Far from any real record on either side, and far from the
#: calendar's ends (years 1 and 9999), so that a time-zone conversion or a period's end never
#: overflows.
FIRST_YEAR, LAST_YEAR = 1900, 2200


def supported_year(year: int) -> bool:
    """Whether an input date in ``year`` is accepted (:data:`FIRST_YEAR` to :data:`LAST_YEAR`)."""
    return FIRST_YEAR <= year <= LAST_YEAR
