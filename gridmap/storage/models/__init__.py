"""SQLAlchemy models, one module per room: the grid, households, people, assignments and
coverage (``grid``); accounts and the audit log (``access``); residents' requests with their
categories, timeline, idempotency keys and tallies (``requests``); patrols (``patrols``).

Geometries are stored in EPSG:4490 (CGCS2000). The database keeps its own checks as the last
line of defence: geometries valid, non-empty and inside China's envelope, grid codes shaped by
level and unique within a validity period (an exclusion constraint over a date range).
"""

from gridmap.storage.models.access import (
    AUDIT_OUTCOMES,
    USER_ROLES,
    AuditEntry,
    AuthSession,
    LoginThrottle,
    User,
)
from gridmap.storage.models.base import (
    CHINA_ENVELOPE,
    SRID,
    Base,
    geometry_checks,
    in_array,
    in_list,
)
from gridmap.storage.models.grid import (
    CARE_TAGS,
    GRID_KINDS,
    GRID_LEVELS,
    PERSON_KINDS,
    ROLES,
    Assignment,
    Coverage,
    Grid,
    Household,
    Person,
)
from gridmap.storage.models.patrols import (
    PATROL_SOURCES,
    REACH_HOWS,
    WORK_LIST_KINDS,
    WORK_LIST_PERIODS,
    WORK_LIST_ROLES,
    WORK_LIST_TARGETS,
    Patrol,
    PatrolCheckIn,
    PatrolPoint,
    PatrolReach,
    WorkList,
)
from gridmap.storage.models.requests import (
    CATEGORY_CLASSES,
    HANDLING_LEVELS,
    RATINGS,
    REQUEST_SOURCES,
    REQUEST_STATES,
    Category,
    IdempotencyKey,
    RequestEvent,
    RequestTally,
    RequestTallyGrid,
    ResidentRequest,
)

__all__ = [
    "AUDIT_OUTCOMES",
    "CARE_TAGS",
    "CATEGORY_CLASSES",
    "CHINA_ENVELOPE",
    "GRID_KINDS",
    "GRID_LEVELS",
    "HANDLING_LEVELS",
    "PATROL_SOURCES",
    "PERSON_KINDS",
    "RATINGS",
    "REACH_HOWS",
    "REQUEST_SOURCES",
    "REQUEST_STATES",
    "ROLES",
    "SRID",
    "USER_ROLES",
    "WORK_LIST_KINDS",
    "WORK_LIST_PERIODS",
    "WORK_LIST_ROLES",
    "WORK_LIST_TARGETS",
    "Assignment",
    "AuditEntry",
    "AuthSession",
    "Base",
    "Category",
    "Coverage",
    "Grid",
    "Household",
    "IdempotencyKey",
    "LoginThrottle",
    "Patrol",
    "PatrolCheckIn",
    "PatrolPoint",
    "PatrolReach",
    "Person",
    "RequestEvent",
    "RequestTally",
    "RequestTallyGrid",
    "ResidentRequest",
    "User",
    "WorkList",
    "geometry_checks",
    "in_array",
    "in_list",
]
