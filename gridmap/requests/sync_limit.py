"""How much a download may cost inside a web request (同步导出的上限).

A report or workbook of a whole street or district takes tens of seconds and hundreds of MB
to build: that is a background job's work. The synchronous exports are kept for small areas,
measured in today's micro-grids (what their cost grows with); a larger area is refused at once
with a 422 problem naming the job to ask instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from gridmap.core.errors import TooLargeForRequest
from gridmap.storage import review as review_store

#: The most micro-grids a synchronous export may cover (a community or a few: ~500 micro-grids
#: of the demo hold ~18,000 households; its whole district has 5,949).
SYNC_MICRO_GRIDS = 500


def check(session: Session, prefixes: Sequence[str], *, job: str) -> None:
    """Refuse an export over the grid subtrees ``prefixes`` that is too large for one request;
    ``job`` is the route that builds it in the background."""
    micro_grids = review_store.grid_count(session, prefixes, "micro")
    if micro_grids > SYNC_MICRO_GRIDS:
        raise TooLargeForRequest(
            f"区域内有 {micro_grids} 个微网格，超过直接下载的上限 {SYNC_MICRO_GRIDS} 个，"
            f"请用后台任务生成（POST {job}）。"
            f" The area holds {micro_grids} micro-grids, more than the {SYNC_MICRO_GRIDS} a "
            f"download in one request may cover: ask for it as a job (POST {job})."
        )
