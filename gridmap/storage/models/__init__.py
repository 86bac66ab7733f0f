"""SQLAlchemy models, one module per room: the grid, households, people, assignments and
coverage (``grid``); accounts and the audit log (``access``); departments, their co-handling
and extensions (``departments``); residents' requests with their
categories, timeline, idempotency keys and tallies (``requests``); patrols (``patrols``);
background jobs and their uploaded files (``jobs``); uploaded photos (``files``); buildings,
units, their posts and 党员中心户 (``buildings``); 双报到 of units and in-service members, their
activities and attendance (``party``); the three lists (needs, resources, service projects) and
微心愿 (``lists``); service sites, the walking network and the cached walking circles
(``services``); other departments'
grid layers and their overlay with ours (``onenet``).

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
from gridmap.storage.models.buildings import (
    BUILDING_POSTS,
    CENTRAL_MEMBER_KINDS,
    POST_HOLDER_KINDS,
    Building,
    BuildingPost,
    BuildingUnit,
    CentralHousehold,
    CentralNeighbour,
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
from gridmap.storage.models.lists import (
    MATCH_STATES,
    NEED_KINDS,
    NEED_SOURCES,
    NEED_STATES,
    RESOURCE_KINDS,
    WISH_CONFIRMERS,
    WISH_STATES,
    PartyMatch,
    PartyNeed,
    PartyPhoto,
    PartyResource,
    SmallWish,
)
from gridmap.storage.models.notifications import (
    NOTICE_CHANNELS,
    NotificationDelivery,
    NotificationOptout,
)
from gridmap.storage.models.onenet import (
    CELL_STATUSES,
    COMPARE_LEVELS,
    ForeignCell,
    ForeignLayer,
    OnenetPiece,
    OnenetSummary,
)
from gridmap.storage.models.party import (
    ATTENDANCE_HOWS,
    ActivitySignup,
    MemberPost,
    MemberRegistration,
    PartyActivity,
    PartyUnit,
    ServicePostKind,
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
    RequestRateFact,
    RequestTally,
    RequestTallyGrid,
    ResidentRequest,
    ReviewHotSpots,
)
from gridmap.storage.models.services import (
    EDGE_ORIGINS,
    SITE_KINDS,
    ServiceCandidate,
    ServiceIsochrone,
    ServiceMapState,
    ServiceReach,
    ServiceSite,
    WalkEdge,
    WalkNode,
)
from gridmap.storage.partitions import is_partition

__all__ = [
    "API_KEY_ROLES",
    "ATTENDANCE_HOWS",
    "AUDIT_OUTCOMES",
    "BUILDING_POSTS",
    "CARD_COLOURS",
    "CARE_TAGS",
    "CATEGORY_CLASSES",
    "CELL_STATUSES",
    "CENTRAL_MEMBER_KINDS",
    "CHANGE_COUNTS",
    "CHINA_ENVELOPE",
    "CODE_PURPOSES",
    "COMPARE_LEVELS",
    "DEPARTMENT_KINDS",
    "EDGE_ORIGINS",
    "EXTENSION_STATES",
    "FILE_MEDIA_TYPES",
    "FILE_PURPOSES",
    "GRID_KINDS",
    "GRID_LEVELS",
    "HANDLING_LEVELS",
    "JOB_STATES",
    "MATCH_STATES",
    "NEED_KINDS",
    "NEED_SOURCES",
    "NEED_STATES",
    "NOTICE_CHANNELS",
    "NOTICE_KINDS",
    "OUTBOX_ASKED_FOR",
    "OUTBOX_KINDS",
    "OUTBOX_OUTCOMES",
    "PATROL_SOURCES",
    "PERSON_KINDS",
    "POST_HOLDER_KINDS",
    "QUEUE_TABLE_PREFIX",
    "RATINGS",
    "REACH_HOWS",
    "REQUEST_SOURCES",
    "REQUEST_STATES",
    "RESOURCE_KINDS",
    "ROLES",
    "SITE_KINDS",
    "SRID",
    "TRACKING_ALPHABET",
    "USER_ROLES",
    "VISIT_CHANNELS",
    "VISIT_TOPICS",
    "WISH_CONFIRMERS",
    "WISH_STATES",
    "WORK_LIST_KINDS",
    "WORK_LIST_PERIODS",
    "WORK_LIST_ROLES",
    "WORK_LIST_TARGETS",
    "ActivitySignup",
    "ApiKey",
    "Assignment",
    "AuditChainAnchor",
    "AuditChainHead",
    "AuditEntry",
    "AuthSession",
    "Base",
    "Building",
    "BuildingPost",
    "BuildingUnit",
    "Category",
    "CentralHousehold",
    "CentralNeighbour",
    "ChangeCount",
    "Coverage",
    "Department",
    "ForeignCell",
    "ForeignLayer",
    "Grid",
    "Household",
    "HouseholdVisit",
    "IdempotencyKey",
    "Job",
    "JobUpload",
    "LoginThrottle",
    "MemberPost",
    "MemberRegistration",
    "NotificationDelivery",
    "NotificationOptout",
    "OnenetPiece",
    "OnenetSummary",
    "Outbox",
    "PartyActivity",
    "PartyMatch",
    "PartyNeed",
    "PartyPhoto",
    "PartyResource",
    "PartyUnit",
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
    "RequestRateFact",
    "RequestTally",
    "RequestTallyGrid",
    "ResidentRequest",
    "ReviewHotSpots",
    "ServiceCandidate",
    "ServiceIsochrone",
    "ServiceMapState",
    "ServicePostKind",
    "ServiceReach",
    "ServiceSite",
    "SmallWish",
    "StoredFile",
    "User",
    "UserNotice",
    "WalkEdge",
    "WalkNode",
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
    comes from the library, applied by migration 0011, not from these models) nor the month
    partitions (:mod:`gridmap.storage.partitions`), which are their parent's rows."""
    if type_ == "table" and name is not None and name.startswith(QUEUE_TABLE_PREFIX):
        return False
    if type_ == "table" and name is not None and is_partition(name):
        return False
    table = getattr(obj, "table", None)
    if table is not None and str(getattr(table, "name", "")).startswith(QUEUE_TABLE_PREFIX):
        return False
    geoalchemy_filter = alembic_helpers.include_object  # untyped
    return bool(geoalchemy_filter(obj, name, type_, reflected, compare_to))  # type: ignore[no-untyped-call]
