"""What the API answers, as pydantic models for the OpenAPI document (``gridmap.api.contract``
puts them on the operations). They describe the serializers' output, they do not build it:
each model names the members every answer has, with their types and nullability; nested
records whose members vary by kind stay open objects.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

Json = dict[str, Any]
#: A member some answers leave out (absent, never null): ``name: str | Absent = absent()``.
Absent = SkipJsonSchema[None]


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def absent(description: str | None = None) -> Any:
    """The default of an :data:`Absent` member: not required, and no ``null`` in its schema."""
    return Field(None, description=description, json_schema_extra=_drop_default)


class Answer(BaseModel):
    """An answer object: more members may come in later versions (clients ignore them)."""

    model_config = ConfigDict(extra="allow")


# ------------------------------------------------------------------------------ problems


class ProblemField(BaseModel):
    field: str = Field(description="Where: a parameter, a body member's dotted path, a header")
    message: str


class Problem(BaseModel):
    """An error, RFC 9457 (``application/problem+json``): the one shape of every error."""

    model_config = ConfigDict(title="Problem")

    type: str = Field(description="A URI naming the kind of problem")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What is wrong, for people (English or Chinese)")
    code: str = Field(description="A stable machine-readable name, e.g. invalid-input, stale")
    errors: list[ProblemField] = Field(
        default_factory=list, description="What is wrong where, when there is more than one"
    )


# ------------------------------------------------------------------------------- GeoJSON


class Link(BaseModel):
    rel: str
    type: str
    href: str


class Feature(Answer):
    type: Literal["Feature"]
    id: int | str | None
    geometry: Json | None
    properties: Json


class FeatureCollection(Answer):
    """A GeoJSON page: ``next`` is the cursor of the next page (null on the last), also as a
    ``rel=next`` link."""

    type: Literal["FeatureCollection"]
    numberReturned: int = Field(ge=0)
    next: str | None
    features: list[Feature]
    links: list[Link] = Field(default_factory=list)


class GeoJsonFile(Answer):
    """A whole layer as one GeoJSON file (RFC 7946): every feature, no paging."""

    type: Literal["FeatureCollection"]
    features: list[Feature]


class PatrolReplay(Answer):
    """One patrol: its track, check-ins and the households it reached, as features."""

    type: Literal["FeatureCollection"]
    id: int
    properties: Json
    features: list[Feature]


class OverdueLayer(Answer):
    type: Literal["FeatureCollection"]
    numberReturned: int = Field(ge=0)
    features: list[Feature]
    counts: Json


# -------------------------------------------------------------- OGC API Features, TileJSON


class OgcLink(Answer):
    """A link of OGC API Features: its relation, media type and absolute URL."""

    href: str
    rel: str
    type: str
    title: str | Absent = absent()


class OgcLandingPage(Answer):
    """The landing page of OGC API Features: where the API, conformance and data are."""

    title: str
    description: str
    links: list[OgcLink]


class OgcConformance(Answer):
    """The conformance classes this service implements."""

    conformsTo: list[str]


#: A bounding box: minx, miny, maxx, maxy (and minz, maxz between them in 3D).
Box = Annotated[list[float], Field(min_length=4, max_length=6)]
#: A time interval: its start and end (null: open).
Interval = Annotated[list[dt.datetime | None], Field(min_length=2, max_length=2)]


class OgcSpatialExtent(Answer):
    bbox: list[Box] = Field(description="One box: minx, miny, maxx, maxy in crs")
    crs: str


class OgcTemporalExtent(Answer):
    interval: list[Interval] = Field(
        description="One interval: first and last time (null: unknown or going on)"
    )
    trs: str


class OgcExtent(Answer):
    spatial: OgcSpatialExtent
    temporal: OgcTemporalExtent | Absent = absent("Only for collections with time")


class OgcCollection(Answer):
    """One feature collection, with its extent in the caller's scope."""

    id: str
    title: str
    description: str
    itemType: Literal["feature"]
    links: list[OgcLink]
    extent: OgcExtent
    crs: list[str] = Field(description="The CRSs the items can be answered in")
    storageCrs: str


class OgcCollections(Answer):
    """The feature collections, with their extent in the caller's scope."""

    links: list[OgcLink]
    collections: list[OgcCollection]
    crs: list[str]


class OgcItem(Answer):
    """A feature of an OGC API collection (GeoJSON); ``properties`` depend on the collection."""

    type: Literal["Feature"]
    id: int
    geometry: Json | None
    properties: Json


class OgcFeature(OgcItem):
    """One feature of a collection (GeoJSON), with its links."""

    links: list[OgcLink]


class OgcFeatureCollection(Answer):
    """A page of a collection's features (GeoJSON), with ``next``/``prev`` links."""

    type: Literal["FeatureCollection"]
    timeStamp: dt.datetime
    numberMatched: int = Field(ge=0)
    numberReturned: int = Field(ge=0)
    links: list[OgcLink]
    features: list[OgcItem]


class VectorLayer(Answer):
    """A layer of the vector tiles and the type of each of its fields."""

    id: str
    description: str
    minzoom: int = Field(ge=0, le=30)
    maxzoom: int = Field(ge=0, le=30)
    fields: dict[str, Literal["Number", "Boolean", "String"]]


class TileJson(Answer):
    """TileJSON 3.0.0 of a vector tile layer."""

    tilejson: Literal["3.0.0"]
    name: str
    description: str
    scheme: Literal["xyz"]
    tiles: list[str] = Field(min_length=1, description="URL templates with {z}, {x}, {y}")
    minzoom: int = Field(ge=0, le=30)
    maxzoom: int = Field(ge=0, le=30)
    bounds: list[float] = Field(
        min_length=4, max_length=4, description="west, south, east, north (WGS 84)"
    )
    center: list[float] = Field(min_length=3, max_length=3, description="lon, lat, zoom")
    attribution: str
    vector_layers: list[VectorLayer]


# --------------------------------------------------------------------------- auth, admin


class Me(Answer):
    username: str
    role: str | None
    scope: list[str]
    capabilities: list[str]
    must_change_password: bool
    notices: list[Json] = Field(default_factory=list)


class Token(Answer):
    token: str
    token_type: Literal["Bearer"]
    idle_timeout_minutes: int
    absolute_timeout_hours: int
    user: Me


class Status(Answer):
    status: str


class NoticesRead(Answer):
    read: int = Field(ge=0)


class Users(Answer):
    users: list[Json]


class UserMade(Answer):
    id: int
    username: str


class ApiKeys(Answer):
    """The Open311 API keys, without their secrets."""

    keys: list[Json]


class ApiKeyIssued(Answer):
    """A new Open311 API key: ``key`` is shown this once."""

    id: int
    name: str
    key_prefix: str
    key: str
    role: str
    scope_code: str | None
    person_id: int | None


class OneTimePassword(Answer):
    one_time_password: str
    expires_at: str
    must_change_password: bool


class AuditPage(Answer):
    entries: list[Json]
    next_before_id: int | None


# -------------------------------------------------------------------- grids and people


class Category(Answer):
    code: str
    name: str
    event_class: str
    description: str | None
    default_level: str
    time_limits: Json = Field(
        description="Per stage (response, handling, feedback): {amount, unit: hours | days, "
        "basis: clock (elapsed time, emergencies) | working (working time)}"
    )
    escalate_on_lapse: list[str]
    requires_check: bool
    requires_after_photo: bool
    open_to_public: bool
    version: int


class StoredFile(Answer):
    """An uploaded photo: what it is, where to read it, what its EXIF said."""

    id: str
    purpose: Literal["intake", "before", "after", "check_in"]
    media_type: Literal["image/jpeg", "image/png", "image/webp"]
    size_bytes: int
    width: int
    height: int
    sha256: str
    uploaded_at: str
    exif: Json = Field(
        description="taken_at (the camera's time), gps {lon, lat} (WGS 84) when present and "
        "sane, notes (what was left out and why)"
    )
    url: str
    thumbnail_url: str


class Categories(Answer):
    categories: list[Category]


class Department(Answer):
    """职能部门: a department and the area it serves (a district or street code prefix)."""

    id: int
    code: str
    name: str
    kind: str
    scope_code: str
    active: bool


class Departments(Answer):
    departments: list[Department]


class WeComRobotSet(Answer):
    """A department's WeCom group robot set (its webhook's host) or removed (null)."""

    department_id: int
    host: str | None


class Located(Answer):
    point: Json
    grids: Json = Field(
        description="The grid at each level (micro, zone, community) with staff; in_scope is "
        "false for the zone or community named above the caller's own grid (its staff are "
        "not the caller's to reveal)"
    )


class HouseholdCoverage(Answer):
    household: Json
    grids: Json = Field(
        description="The grid at each level (micro, zone, community) with staff; in_scope is "
        "false for the zone or community named above the caller's own grid (its staff are "
        "not the caller's to reveal)"
    )
    members: list[Json]
    building: Json | None = Field(
        None,
        description="The household's building (楼栋) and unit, their 楼栋长 and 单元长 and the "
        "党员中心户 looking after it; null when it has none",
    )


class Building(Feature):
    """A building (楼栋) as a GeoJSON feature: its number, name, floors, micro-grid, units,
    posts (楼栋长, 单元长) and 党员中心户, and its ETag."""


class BuildingChanged(Answer):
    id: int
    etag: str


class CentralHousehold(Answer):
    """党员中心户: a party member's household and the neighbours it looks after."""

    id: int
    household_id: int
    address: str
    building_id: int | None
    person: Json
    start_date: str
    end_date: str | None
    neighbours: list[Json]
    etag: str


class SearchResults(Answer):
    results: list[Json]


class Revealed(Answer):
    object: str
    id: int
    field: str
    value: str | None


class Staff(Answer):
    assignments: list[Json]
    etag: str


class PostMade(Answer):
    id: int
    etag: str


class PostEnded(Answer):
    id: int
    end_date: str
    etag: str


class GridCoverage(Answer):
    etag: str
    households: list[Json]
    members: list[Json]
    suggested_members: list[int] = Field(
        description="Members a division form checks by default: those covering the grid today, "
        "then the nearest others until the mean load is at most 15"
    )


class LoadRange(BaseModel):
    min: float
    max: float
    derived: list[Literal["min", "max"]] = Field(
        description="The bounds derived from the households and members (not given)"
    )


class DivisionProposal(Answer):
    etag: str
    assignments: list[Json]
    loads: dict[str, float]
    load_range: LoadRange
    stats: Json


class Changed(Answer):
    changed: int
    etag: str


class Report(Answer):
    name: str
    title: str
    columns: dict[str, str]
    rows: list[Json]


# ----------------------------------------------------------------------------- requests


class RequestDetail(Answer):
    """One request with its timeline, its ETag and the actions the caller may take."""

    id: int
    state: str
    stage: str
    category: Json
    revision: int
    etag: str
    urgency: str = Field(description="一般 normal, 紧急 urgent or 特急 critical")
    stage_basis: str = Field(
        description="How the running stage's limit is counted: clock or working time"
    )
    allowed_actions: list[str]
    cohandlers: list[Json] = Field(description="协办: the departments co-handling it")
    extension: Json | None = Field(description="延期: the extension waiting for an answer")
    timeline: list[Json]


class Duplicates(Answer):
    candidates: list[Json]


class Ranking(Answer):
    """三率 per unit, ranked among peers (红黑榜): the module ``gridmap.requests.rates`` has
    the formulas, the minimum volume and the tie rule; ``notes`` says them in Chinese."""

    title: str
    by: str
    level: str | None
    period: Json
    board_size: float = Field(description="GRIDMAP_RATE_BOARD_SIZE: seats, or a share")
    min_filed: int = Field(ge=1, description="Requests filed in the period to be ranked")
    boards: list[Json] = Field(description="Each peer group's red and black board, its tie")
    notes: list[Json] = Field(description="How the ranking was made: label and text")
    rows: list[Json]


class Warnings(Answer):
    as_of: str
    counts: dict[str, int]
    by_owner: list[Json]
    rows: list[Json]


class Review(Answer):
    """An aggregate of the monthly review, with the filter it was made with."""

    filter: Json


class ForeignLayerBrief(Answer):
    id: int
    name: str
    department: str
    department_label: str
    compare_level: Literal["micro", "zone"]
    cells: int
    imported_at: str | None
    overlay_at: str | None


class ForeignLayers(Answer):
    """The foreign grid layers (外部门网格) the caller may see."""

    results: list[ForeignLayerBrief]


class ForeignLayer(ForeignLayerBrief):
    """A foreign layer with its overlay's summary in the caller's scope (一张网)."""

    filename: str
    stale: bool
    rule: Json
    report: Json
    summary: list[Json]
    statuses: dict[str, int]


class Job(Answer):
    id: int
    kind: str
    state: Literal["queued", "running", "succeeded", "failed"]
    state_label: str
    progress: int | float


# ------------------------------------------------------------------------- service map


class ServiceMapState(Answer):
    """When the walking circles were computed, whether sites or the network changed since,
    the network's figures (its connected pieces) and the bands of the circles."""

    refreshed_at: str | None
    stale: bool
    speed_mps: float
    minutes: list[int]
    nodes: int
    edges: int
    components: int
    detached_nodes: int


class ServiceGaps(Answer):
    """Households and those outside every last-band circle, per micro-grid (``rows``) and per
    community."""

    rows: list[Json]
    communities: list[Json]


# ----------------------------------------------------------------------------- patrols


class WorkLists(Answer):
    person: Json
    date: str
    lists: list[Json]


class Patrol(Answer):
    id: int


class PointsTaken(Answer):
    model_config = ConfigDict(extra="allow", title="PointsTaken")


class Overdue(Answer):
    date: str
    lists: list[Json]
    by_worker: list[Json]
    by_grid: list[Json]
    numberReturned: int = Field(ge=0)
    rows: list[Json]


class Visits(Answer):
    household_id: int
    visits: list[Json]
    logs: list[Json] = Field(description="民情日志: members' and workers' visits, newest first")


class VisitLog(Answer):
    """民情日志: a visit to a household."""

    id: int
    household_id: int
    address: str | None
    person: Json
    patrol_id: int | None
    at: str
    channel: Literal["in_person", "phone", "wechat"]
    topics: list[str]
    note: str | None
    request_id: int | None


class VisitLogs(Answer):
    visits: list[VisitLog]


class PartyNeed(Answer):
    """需求: a published need (no household, a rounded point) and its project's state."""

    id: int
    kind: str
    title: str
    detail: str
    source: Literal["resident", "visit", "request"]
    state: Literal["open", "matched", "done", "closed"]
    place: Json | None
    community: Json
    match: Json | None


class PartyNeeds(Answer):
    results: list[PartyNeed]


class NeedClaimed(Answer):
    need_id: int
    match_id: int
    state: str


class PartyResource(Answer):
    """资源: what a unit or member offers."""

    id: int
    kind: str
    title: str
    provider: Json
    community: Json


class PartyResources(Answer):
    results: list[PartyResource]


class PartyMatch(Answer):
    """服务项目: a need matched with a provider, its state, result and photos."""

    id: int
    state: Literal["proposed", "confirmed", "done", "declined"]
    proposed_by: Literal["provider", "community"]
    need: Json
    provider: Json
    photos: list[str]


class PartyMatches(Answer):
    results: list[PartyMatch]


class Claimable(Answer):
    """Open needs and wishes of your community (``type`` need or wish), nearest first."""

    results: list[Json]


class SmallWish(Answer):
    """微心愿 as published: no resident, phone or door."""

    id: int
    title: str
    detail: str
    state: Literal["open", "claimed", "fulfilled", "confirmed", "withdrawn"]
    place: Json
    community: Json
    claimant: Json | None
    photos: list[str]


class SmallWishes(Answer):
    results: list[SmallWish]


class MyClaims(Answer):
    """What a member or unit claimed: wishes and service projects."""

    wishes: list[SmallWish]
    matches: list[PartyMatch]


class WishCounts(Answer):
    """Per member and unit (``type``) and community: wishes claimed, fulfilled, confirmed."""

    results: list[Json]


class PostKinds(Answer):
    """服务岗位: the kinds of service post."""

    posts: list[Json]


class PartyUnit(Answer):
    """单位党组织 and the community it reports to."""

    id: int
    code: str
    name: str
    reported_on: str
    community: Json
    members: int


class PartyUnits(Answer):
    results: list[PartyUnit]


class PartyActivity(Answer):
    """社区吹哨: an activity of a community, its places taken and attendance."""

    id: int
    title: str
    kind: str
    starts_at: str
    ends_at: str
    place_name: str
    place: Json
    wanted: int
    signed: int
    attended: int
    community: Json


class PartyActivities(Answer):
    results: list[PartyActivity]


class Attendance(Answer):
    """A member's attendance of an activity, and the hours it counts."""

    activity_id: int
    person_id: int
    attended_at: str | None
    how: Literal["organiser", "check_in"] | None
    distance_m: float | None
    hours: float | None


class Signup(Answer):
    activity_id: int
    signed: bool


class Registered(Answer):
    """双报到: the registration made and the community holding the home."""

    id: int
    community: Json


class MemberPosts(Answer):
    posts: list[str]


class MyParty(Answer):
    """A member's 双报到: community (null before reporting), posts and this quarter."""

    registration: Json | None
    posts: list[str]
    quarter: Json


class PartyReport(Answer):
    """The quarter's 双报到 table against the rule."""

    quarter: str
    quarter_name: str = Field(description="As people write it: 2026年第4季度")
    rule: Json
    summary: Json
    by_community: list[Json] = Field(description="Members, met and not met per community")
    rows: list[Json]


class UnitReport(PartyReport):
    unit: PartyUnit


class Health(Answer):
    status: Literal["ok"]


class Readiness(Answer):
    status: Literal["ok", "degraded"] = Field(
        description="degraded: the instance serves, but a store beside the database (the rate"
        " limits' Redis, the read replica) is away"
    )
    database: Literal["ok"]
    rate_limit_store: Literal["ok", "unreachable"] | Absent = absent(
        "Only when the rate limits count in Redis; unreachable: each process counts alone"
    )
    replica: Literal["streaming", "disconnected", "unreachable", "not-a-replica"] | Absent = absent(
        "Only when a read replica is configured; disconnected (it receives nothing from the"
        " primary) or unreachable: the reads it cannot serve go to the primary"
    )
    replica_lag_seconds: float | Absent = absent(
        "Only while the replica streams: how far its replay lags behind the primary"
    )


# ------------------------------------------------------------------------- notifications


class Notification(Answer):
    id: int
    kind: str = Field(description="assigned, returned, summoned, due_soon, overdue, …")
    request_id: int | None
    text: str | None
    urgent: bool
    created_at: dt.datetime


class Notifications(Answer):
    items: list[Notification]
    opted_out: bool = Field(description="The account receives nothing but this list")


class OptedOut(Answer):
    opted_out: bool


class SentNotification(Answer):
    id: int
    outbox_id: int
    kind: str
    channel: Literal["sms", "wecom", "page"]
    recipient: str = Field(description="A masked phone, a department, an account")
    text: str
    dry_run: bool = Field(description="Only recorded (the demo's sender), never sent")
    delivered_at: dt.datetime


class SentNotifications(Answer):
    items: list[SentNotification]


# ------------------------------------------------------------------- 公众上报 (public channel)


class PublicCategory(Answer):
    code: str
    name: str


class PublicCategories(Answer):
    categories: list[PublicCategory]


class Captcha(Answer):
    """An image captcha: its id (send it back with the answer) and the PNG as a data URL."""

    id: str
    image: str


class CodeSent(Answer):
    """A code was sent by SMS: the draft token to send back with it, and when it expires."""

    draft: str
    expires_at: str


class PublicPhoto(Answer):
    id: str
    media_type: Literal["image/jpeg", "image/png", "image/webp"]
    size_bytes: int


class PublicFiled(Answer):
    """查询码: the tracking number of the request filed."""

    tracking_number: str


class PublicStep(Answer):
    at: str
    state: str


class PublicAnswer(Answer):
    resolved: str | None
    rating: str | None
    comment: str | None


class PublicStatus(Answer):
    """A request as the resident follows it: no contact, no staff, no internal note."""

    tracking_number: str
    category: str
    state: str
    created_at: str
    timeline: list[PublicStep]
    photos: list[str] = Field(description="The resident's own photos (ids)")
    may_rate: bool
    answer: PublicAnswer | None


class PublicRequest(Answer):
    tracking_number: str
    category: str
    state: str
    created_at: str


class PublicRequests(Answer):
    requests: list[PublicRequest]
