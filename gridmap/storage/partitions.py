"""The month partitions (按月分区) of the tables that only grow by time.

``audit_log`` and ``request_event`` are partitioned by month of Beijing time on ``at``
(migration 0034): a partition ``<table>_pYYYYMM`` per month and ``<table>_default`` for any
row no month partition holds. The partitions are made ahead by the database's
``gridmap_partitions_ahead`` (run as the tables' owner), which the job runner calls daily, so
rows land in their month and queries bounded by time read only the months they name.
Retention drops whole months where its rule allows (``gridmap_prune_audit``).
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

#: The partitioned tables (the migration's list; the database function refuses any other).
PARTITIONED = ("audit_log", "request_event", "patrol_point")

#: Months of partitions kept ready after the current one.
MONTHS_AHEAD = 3

_PARTITION_NAME = re.compile(rf"^({'|'.join(PARTITIONED)})_(p[0-9]{{6}}|default)$")


def is_partition(table_name: str) -> bool:
    """Whether ``table_name`` is one of the month (or DEFAULT) partitions: a table of its
    own to the catalogue, but part of its parent to the models."""
    return _PARTITION_NAME.match(table_name) is not None


def make_ahead(session: Session, months: int = MONTHS_AHEAD) -> int:
    """Make this month's partition and the next ``months``' where missing (rows the DEFAULT
    partition held for them move in); returns how many were made. The caller commits."""
    return int(session.scalar(select(func.gridmap_partitions_ahead(months))) or 0)
