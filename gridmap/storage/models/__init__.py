"""SQLAlchemy models, one module per room: the grid, households, people, assignments and
coverage (``grid``); accounts and the audit log (``access``); departments, their co-handling
and extensions (``departments``); residents' requests with their
categories, timeline, idempotency keys and tallies (``requests``); patrols (``patrols``);
background jobs and their uploaded files (``jobs``); uploaded photos (``files``).

Geometries are stored in EPSG:4490 (CGCS2000). The database keeps its own checks as the last
line of defence: geometries valid, non-empty and inside China's envelope, grid codes shaped by
level and unique within a validity period (an exclusion constraint over a date range).
"""

from geoalchemy2 import alembic_helpers

from gridmap.storage.models.access import (
    API_KEY_ROLES,
    AUDIT_OUTCOMES,
    CHANGE_COUNTS,
    NOTICE_KINDS,
    USER_ROLES,
    ApiKey,
    AuditChainAnchor,
    AuditChainHead,
    AuditEntry,
    AuthSession,
    ChangeCount,
    LoginThrottle,
    User,
    UserNotice,
)
from gridmap.storage.models.base import (
    CHINA_ENVELOPE,
    SRID,
    Base,
    geometry_checks,
    in_array,
    in_list,
)
from gridmap.storage.models.departments import (
    DEPARTMENT_KINDS,
    EXTENSION_STATES,
    Department,
    RequestCohandler,
    RequestExtension,
    RequestHelper,
)
from gridmap.storage.models.files import FILE_MEDIA_TYPES, FILE_PURPOSES, StoredFile
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
from gridmap.storage.models.jobs import JOB_STATES, QUEUE_TABLE_PREFIX, Job, JobUpload
from gridmap.storage.models.notifications import (
    NOTICE_CHANNELS,
    NotificationDelivery,
    NotificationOptout,
)
from gridmap.storage.models.patrols import (
    PATROL_SOURCES,
    REACH_HOWS,
    VISIT_CHANNELS,
    VISIT_TOPICS,
    WORK_LIST_KINDS,
    WORK_LIST_PERIODS,
    WORK_LIST_ROLES,
    WORK_LIST_TARGETS,
    HouseholdVisit,
    Patrol,
    PatrolCheckIn,
    PatrolPoint,
    PatrolReach,
    WorkList,
)
from gridmap.storage.models.public import CODE_PURPOSES, PublicCaptcha, PublicCode
from gridmap.storage.models.requests import (
    CARD_COLOURS,
    CATEGORY_CLASSES,
    HANDLING_LEVELS,
    OUTBOX_ASKED_FOR,
    OUTBOX_KINDS,
    OUTBOX_OUTCOMES,
    RATINGS,
    REQUEST_SOURCES,
    REQUEST_STATES,
    TRACKING_ALPHABET,
    Category,
    IdempotencyKey,
    Outbox,
    RequestCard,
    RequestEvent,
    RequestTally,
    RequestTallyGrid,
    ResidentRequest,
)

__all__ = [
    "API_KEY_ROLES",
    "AUDIT_OUTCOMES",
    "CARD_COLOURS",
    "CARE_TAGS",
    "CATEGORY_CLASSES",
    "CHANGE_COUNTS",
    "CHINA_ENVELOPE",
    "CODE_PURPOSES",
    "DEPARTMENT_KINDS",
    "EXTENSION_STATES",
    "FILE_MEDIA_TYPES",
    "FILE_PURPOSES",
    "GRID_KINDS",
    "GRID_LEVELS",
    "HANDLING_LEVELS",
    "JOB_STATES",
    "NOTICE_CHANNELS",
    "NOTICE_KINDS",
    "OUTBOX_ASKED_FOR",
    "OUTBOX_KINDS",
    "OUTBOX_OUTCOMES",
    "PATROL_SOURCES",
    "PERSON_KINDS",
    "QUEUE_TABLE_PREFIX",
    "RATINGS",
    "REACH_HOWS",
    "REQUEST_SOURCES",
    "REQUEST_STATES",
    "ROLES",
    "SRID",
    "TRACKING_ALPHABET",
    "USER_ROLES",
    "VISIT_CHANNELS",
    "VISIT_TOPICS",
    "WORK_LIST_KINDS",
    "WORK_LIST_PERIODS",
    "WORK_LIST_ROLES",
    "WORK_LIST_TARGETS",
    "ApiKey",
    "Assignment",
    "AuditChainAnchor",
    "AuditChainHead",
    "AuditEntry",
    "AuthSession",
    "Base",
    "Category",
    "ChangeCount",
    "Coverage",
    "Department",
    "Grid",
    "Household",
    "HouseholdVisit",
    "IdempotencyKey",
    "Job",
    "JobUpload",
    "LoginThrottle",
    "NotificationDelivery",
    "NotificationOptout",
    "Outbox",
    "Patrol",
    "PatrolCheckIn",
    "PatrolPoint",
    "PatrolReach",
    "Person",
    "PublicCaptcha",
    "PublicCode",
    "RequestCard",
    "RequestCohandler",
    "RequestEvent",
    "RequestExtension",
    "RequestHelper",
    "RequestTally",
    "RequestTallyGrid",
    "ResidentRequest",
    "StoredFile",
    "User",
    "UserNotice",
    "WorkList",
    "geometry_checks",
    "in_array",
    "in_list",
    "include_object",
]


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's filter: GeoAlchemy2's, and never the queue library's own tables (its schema
    comes from the library, applied by migration 0011, not from these models)."""
    if type_ == "table" and name is not None and name.startswith(QUEUE_TABLE_PREFIX):
        return False
    table = getattr(obj, "table", None)
    if table is not None and str(getattr(table, "name", "")).startswith(QUEUE_TABLE_PREFIX):
        return False
    geoalchemy_filter = alembic_helpers.include_object  # untyped
    return bool(geoalchemy_filter(obj, name, type_, reflected, compare_to))  # type: ignore[no-untyped-call]
