"""Synthetic residents' requests (群众诉求) at city scale, for the monthly review (一月一研判).

:func:`generate_requests` fills the database with ``count`` requests and their timelines over
the demo city (the grid, households and staff of :func:`gridmap.demo.loader.load`), as residents and
staff would have produced them over the last ``months`` calendar months up to ``end``. Every
draw comes from one seeded generator: the same database, arguments and seed give the same
rows (ids aside).

The model
---------
**How many, when.** The requests of a category ``c`` on day ``d`` in component ``k`` (its
background or one of its hot spots) have the intensity ::

    share_c · season_c(month of d) · day(d) · component_k,c(d)

drawn once with a multinomial, so the total is exactly ``count``. ``share_c`` is the
category's share of a year's requests (:data:`CATEGORY_MODELS`), ``season_c`` its monthly
weights (heating Nov–Mar, flooding Jun–Aug, construction in spring and autumn, vendors in
summer…), and ``day`` the calendar: rest days and holidays (``gridmap.requests.deadlines``, i.e.
chinese-calendar, 调休 included) 0.7 of a working day, Mondays 1.08, the Spring Festival
holiday 0.55 (the city empties), a gentle growth of 16 % over the span, and garbage ×2.2 in the
twelve days after the Spring Festival. Within the day the filing time follows an hour-of-day
profile: working hours peak, few at night; vendors and neighbours have an evening bump,
construction noise a night and early-morning one, flooding comes at any hour.

**Where.** Hot spots are typed places (:data:`PLACE_TYPES`): markets, construction sites, old
courtyards (老旧小区), busy streets and low-lying spots, each linked to the categories it
draws (a market: vendors, garbage, parking, flyers). A place's requests fall around it with a
Gaussian kernel, σ 40–300 m, stretched along the street for a street (σ 150–400 m along,
15–40 m across). The rest of a category, its background, follows household density (weighted
by residents; elderly care by households tagged elderly_alone or disabled). Categories that
come from homes (neighbour disputes, elderly care, property repair, heating, water; and the
residents around a construction site) are filed from a household: the kernel's point snaps to
the nearest household, and the request carries that household's id, point and micro-grid.
The others (vendors, parking, flyers, billboards, debris, flooding…) are points in the
street (the background within some 60 m of a household), located to their micro-grid with
:func:`gridmap.spatial.locate.locate_points`; a point outside every micro-grid is pulled
towards the nearest household until it lies inside one.

**Trends.** Each place is ``stable``, ``emerging`` (nothing until an onset in the last 25–45 %
of the span, then a steady climb to 2.5–4× a stable place: a new construction site or
market) or ``fading`` (1.6× until a turn in the first half, then down to 5 %: a finished
site); at least two of each. :attr:`Report.hotspots` lists them, so the review's "emerging
hot spots" can be checked against the truth.

**Life.** Intake routes a request with :func:`gridmap.requests.service.route`'s own rule
(:func:`~gridmap.requests.service.climb`: from the category's level, climbing while a level
has nobody: grid worker, zone leader, chief, street), with today's staff read once; the
owners and their "why" are the service's (``on_duty``, ``street_owner``, ``unstaffed``,
``summoned``, ``owner_detail``). Its timeline is the closed loop of
:mod:`gridmap.requests.lifecycle`, every step a legal transition by the right role: report → accept
→ start → complete → rate → archive. Delays are drawn in working time as fractions of the
stage's limit — responses lognormal with median 0.3 of the limit, handling 0.4, each owner
faster or slower by a personal factor, a few stuck for weeks — so about a tenth of responses
and of completions are late. 3–4 % of the requests of a grid level are escalated one level
before they are accepted, and the street summons the department (街乡吹哨) for a quarter of
its utility, flooding, debris and billboard requests. 85 % of residents answer within the
feedback window (about 76 % satisfied, 16 % basically, 8 % unsatisfied, more often after a
late completion); an unanswered request is archived by the scheduler when its feedback
deadline passes. An unsatisfied answer reopens the request, which is completed again; 70 % of
those residents answer again (satisfied now), the rest stay unsatisfied and unanswered.
1 % of the requests are duplicates of an earlier one nearby (same category, hours later),
marked by their owner.
Every step after ``end`` is cut: requests of the last days and weeks are open in every state,
some past their stage deadline. The rows carry the state, level, owner, rating,
``reopen_count``, ``revision``, ``updated_at``, ``stage_started_at`` and ``stage_deadline`` of
their last step, ``due_at`` as :func:`gridmap.requests.service.due_at_many` fixes it, and the
events the ``detail`` (owner, ``deadline``, rating…) that :mod:`gridmap.requests.rates` reads.

**Deadlines** are those :func:`gridmap.requests.deadlines.add_working_time` computes for the same
start and limit: they come from its array twin, one
:class:`gridmap.requests.deadlines.WorkingTimeTable` of the span (and a year past it) rather
than one call per request, which also measures the delays in working time.

**Contacts** are plainly synthetic: ``王先生``/``李女士`` and phone numbers ``1000xxxxxxx``
(:data:`SYNTHETIC_PHONE_PREFIX`, a range no carrier issues). Actors are ``synth:<role>``.

Writing
-------
Arrays are built with numpy per block of days, COPYed (binary) into temporary staging tables
in chunks of ``chunk_size`` rows and moved into ``resident_request`` and ``request_event``
with one ``INSERT … SELECT`` per chunk, which builds the geometry and the JSON in the server.
``request_tally`` follows by its statement triggers (one upsert per chunk). A writer thread
feeds the database while the next block is drawn. Ids come from the tables' sequences,
reserved with ``setval``. Everything happens in the caller's transaction: the caller commits,
and a failure leaves nothing behind.

Scale
-----
Measured on the 2-core development machine, shared with other jobs, over the demo city
(100 000 households, 5 949 micro-grids): 2 000 000 requests and 11.9 M events in 260 s
(7 700 requests/s, 53 600 rows/s), peak memory 1.2 GB, the database growing by 4.4 GB
(requests 0.8, events 3.3, tally 0.3). Python takes 21 s of CPU of it: the time is the
server's, per chunk of 200 000 requests about 9 s for the requests (eight indexes, one of them
GiST, seven foreign keys and the tally's upsert) and 10 s for their 1.2 M events (a foreign
key and the JSON each).

For 20 M requests the same command works unchanged: blocks hold about ``chunk_size``
requests whatever the count, so memory stays near 1.2 GB, and time and size grow linearly —
expect some 45 minutes and 45 GB (plus the WAL the one transaction writes; a larger
``max_wal_size`` spares checkpoints). Twenty millions in one transaction are all or nothing;
``--months`` spreads them (20 M over 12 months is about Beijing's whole 12345 volume of 2023
filed in one district, a stress test rather than a likeness).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

import chinese_calendar
import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.orm import Session

from gridmap.access import audit, auth
from gridmap.core.errors import Unprocessable
from gridmap.grid import ingest
from gridmap.requests import deadlines, lifecycle, service
from gridmap.requests.service import GRID_ROLE, Owner
from gridmap.spatial.locate import locate_points

__all__ = [
    "CATEGORY_MODELS",
    "PLACE_TYPES",
    "SYNTHETIC_PHONE_PREFIX",
    "Block",
    "CategoryModel",
    "Hotspot",
    "MissingCity",
    "PlaceType",
    "Report",
    "generate_requests",
    "run",
]

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]

TZ: Final = ZoneInfo(deadlines.DEFAULT_TZ)
#: "Never happens": a step that is not taken, a stage without a time limit.
NEVER: Final = deadlines.NEVER
SYNTHETIC_PHONE_PREFIX: Final = "1000"
DUPLICATE_SHARE: Final = 0.01
LEVELS: Final = lifecycle.LEVELS
_PG_EPOCH: Final = 946_684_800  # 2000-01-01T00:00:00Z in Unix seconds
_METRES_PER_DEGREE: Final = (111_320.0, 110_574.0)
#: How far past the end the calendar is exact: beyond every deadline of a stage begun by then.
_EXACT_AHEAD: Final = dt.timedelta(days=30)


class MissingCity(Unprocessable):
    """The database holds no demo city (grid, households, categories) to generate over."""

    code = "missing-city"
    title = "Nothing to generate requests over"


# ----------------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class CategoryModel:
    """How the requests of one category arise.

    ``share`` of a year's requests; ``household``: the share filed from a home; ``hot``: the
    share around hot-spot places (the rest follows household density); ``profile``: the
    hour-of-day profile; ``months``: weights January to December; ``department``: whom the
    street summons (街乡吹哨), if anyone.
    """

    code: str
    share: float
    household: float
    hot: float
    profile: str
    months: tuple[float, ...]
    department: str | None = None


_FLAT = (1.0,) * 12
#: One model per category of ``gridmap.demo.loader.CATEGORIES``.
CATEGORY_MODELS: Final[tuple[CategoryModel, ...]] = (
    CategoryModel(
        "sanitation.garbage", 0.12, 0.35, 0.3, "day",
        (1.0, 1.2, 1.0, 0.9, 0.9, 1.1, 1.2, 1.2, 1.0, 1.0, 0.9, 0.9),
    ),
    CategoryModel(
        "sanitation.graffiti", 0.03, 0.1, 0.45, "day",
        (0.9, 0.8, 1.0, 1.0, 1.1, 1.2, 1.2, 1.2, 1.0, 1.0, 0.9, 0.8),
    ),
    CategoryModel(
        "ads.flyer", 0.06, 0.1, 0.5, "day",
        (0.8, 0.6, 1.0, 1.1, 1.1, 1.0, 1.0, 1.0, 1.1, 1.1, 1.0, 0.9),
    ),
    CategoryModel("ads.billboard", 0.02, 0.05, 0.55, "day", _FLAT, "区城市管理委员会"),
    CategoryModel(
        "construction.noise", 0.09, 0.7, 0.65, "night",
        (0.3, 0.3, 1.3, 1.6, 1.5, 1.1, 1.0, 1.0, 1.5, 1.6, 1.2, 0.5),
    ),
    CategoryModel(
        "construction.debris", 0.03, 0.1, 0.7, "day",
        (0.3, 0.3, 1.3, 1.5, 1.4, 1.1, 1.0, 1.0, 1.4, 1.5, 1.1, 0.5),
        "区城管执法局",
    ),
    CategoryModel(
        "emergency.hazard", 0.04, 0.3, 0.3, "day",
        (0.9, 0.9, 1.3, 1.4, 1.1, 1.2, 1.3, 1.2, 1.0, 0.9, 0.9, 1.0),
    ),
    CategoryModel(
        "emergency.flooding", 0.02, 0.15, 0.75, "storm",
        (0.05, 0.05, 0.05, 0.1, 0.4, 2.0, 5.0, 4.0, 1.0, 0.2, 0.05, 0.05),
        "区水务局",
    ),
    CategoryModel(
        "street.vendor", 0.09, 0.1, 0.6, "evening",
        (0.5, 0.5, 0.8, 1.0, 1.3, 1.5, 1.6, 1.6, 1.3, 1.0, 0.7, 0.5),
    ),
    CategoryModel(
        "street.parking", 0.12, 0.15, 0.45, "evening",
        (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 1.0, 1.0),
    ),
    CategoryModel(
        "neighbour.dispute", 0.08, 0.95, 0.2, "evening",
        (0.9, 1.1, 0.9, 0.9, 1.0, 1.2, 1.3, 1.3, 1.0, 0.9, 0.9, 0.9),
    ),
    CategoryModel(
        "elderly.care", 0.05, 0.95, 0.2, "day",
        (1.3, 1.2, 1.0, 0.9, 0.9, 1.0, 1.2, 1.2, 0.9, 0.9, 1.0, 1.3),
    ),
    CategoryModel(
        "property.repair", 0.10, 0.9, 0.35, "day",
        (1.2, 1.0, 0.9, 0.9, 0.9, 1.1, 1.4, 1.4, 1.0, 0.9, 1.0, 1.2),
    ),
    CategoryModel(
        "utility.water", 0.06, 0.8, 0.25, "day",
        (1.2, 1.1, 0.9, 0.9, 1.0, 1.2, 1.3, 1.3, 1.0, 0.9, 0.9, 1.1),
        "自来水集团",
    ),
    CategoryModel(
        "utility.heating", 0.09, 0.95, 0.3, "day",
        (5.0, 4.0, 2.2, 0.3, 0.1, 0.1, 0.1, 0.1, 0.15, 0.5, 3.0, 5.0),
        "热力集团",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class PlaceType:
    """A kind of hot spot: how many, how wide (σ in metres, along and across for a street),
    how likely it emerges or fades, and how strongly it draws each category."""

    kind: str
    name: str
    count: int
    sigma: tuple[float, float]
    across: tuple[float, float] | None
    emerging: float
    fading: float
    draws: Mapping[str, float]


PLACE_TYPES: Final[tuple[PlaceType, ...]] = (
    PlaceType(
        "market", "菜市场", 8, (60, 200), None, 0.1, 0.1,
        {"street.vendor": 1.0, "sanitation.garbage": 0.6, "street.parking": 0.5,
         "ads.flyer": 0.3, "sanitation.graffiti": 0.2},
    ),
    PlaceType(
        "construction", "工地", 10, (80, 300), None, 0.3, 0.3,
        {"construction.noise": 1.0, "construction.debris": 1.0, "emergency.hazard": 0.4,
         "street.parking": 0.15},
    ),
    PlaceType(
        "courtyard", "老旧小区", 14, (40, 150), None, 0.1, 0.1,
        {"property.repair": 1.0, "utility.heating": 0.8, "utility.water": 0.6,
         "elderly.care": 0.6, "neighbour.dispute": 0.6, "sanitation.garbage": 0.4,
         "emergency.hazard": 0.3},
    ),
    PlaceType(
        "street", "商业街", 8, (150, 400), (15, 40), 0.15, 0.1,
        {"street.parking": 1.0, "ads.flyer": 1.0, "ads.billboard": 1.0,
         "sanitation.graffiti": 0.8, "street.vendor": 0.6},
    ),
    PlaceType(
        "lowland", "低洼路段", 6, (40, 80), None, 0.0, 0.0,
        {"emergency.flooding": 1.0, "emergency.hazard": 0.2},
    ),
)  # fmt: skip

_DAY_PROFILE = (
    0.25, 0.15, 0.1, 0.08, 0.08, 0.15, 0.4, 1.2, 3.0, 5.0, 5.6, 5.2,
    3.6, 3.8, 4.8, 5.0, 4.6, 3.8, 3.0, 2.8, 2.4, 1.8, 1.0, 0.5,
)  # fmt: skip
#: Hour-of-day bumps added to the working-day profile.
_PROFILE_BUMPS: Final[Mapping[str, Mapping[int, float]]] = {
    "day": {},
    "evening": {18: 2.0, 19: 3.0, 20: 3.2, 21: 2.5, 22: 1.2},
    "night": {21: 1.5, 22: 2.5, 23: 3.0, 0: 2.5, 1: 1.5, 2: 0.8, 5: 0.8, 6: 1.5},
    "storm": {h: 2.0 for h in range(24)},
}

_DESCRIPTIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "sanitation.garbage": (
        "小区垃圾桶满溢，周边有异味", "楼下垃圾堆放多日无人清运", "胡同口有暴露垃圾",
        "垃圾分类桶站周边脏乱", "路边绿化带内有垃圾堆积",
    ),
    "sanitation.graffiti": (
        "楼道墙面被乱涂乱画", "小区外墙有涂鸦", "电线杆上乱写乱画", "公交站牌被涂写",
        "胡同墙面被喷涂",
    ),
    "ads.flyer": (
        "单元门口张贴大量小广告", "电梯间小广告屡贴不止", "路灯杆上贴满小广告",
        "楼道墙面小广告泛滥", "共享单车上被贴小广告",
    ),
    "ads.billboard": (
        "商铺门头广告牌破损有脱落风险", "违规设置户外广告牌", "楼顶广告设施松动",
        "人行道上摆放广告牌影响通行", "广告横幅长期悬挂未撤",
    ),
    "construction.noise": (
        "夜间施工噪音扰民", "工地清晨开工噪音大", "装修电钻声持续不断",
        "工地机械轰鸣影响休息", "周末施工噪音扰民",
    ),
    "construction.debris": (
        "渣土车沿路遗撒", "工地出入口路面泥土多", "施工垃圾随意堆放在路边",
        "渣土未苫盖扬尘严重", "运输车辆带泥上路",
    ),
    "emergency.hazard": (
        "小区井盖破损存在安全隐患", "楼道堆放杂物堵塞消防通道", "电动车在楼道内充电",
        "路边树木倾斜有倒伏风险", "外墙瓷砖松动有坠落危险",
    ),
    "emergency.flooding": (
        "雨后路口积水严重", "下凹桥积水车辆无法通行", "小区地下室进水",
        "胡同内积水排不出去", "雨水井堵塞路面积水",
    ),
    "street.vendor": (
        "路边占道经营影响通行", "早市摊贩占用人行道", "夜间流动摊贩油烟扰民",
        "商户店外经营摆摊", "无照商贩在小区门口聚集",
    ),
    "street.parking": (
        "机动车占用消防通道停放", "共享单车乱停堵塞路口", "车辆长期占用人行道",
        "小区门口车辆乱停放", "僵尸车长期停放无人处理",
    ),
    "neighbour.dispute": (
        "楼上邻居噪音扰民", "邻居占用公共楼道堆物", "邻居家漏水殃及楼下",
        "邻居饲养宠物扰民", "邻里因停车位发生纠纷",
    ),
    "elderly.care": (
        "独居老人需要上门探视", "老人行动不便需协助就医", "高龄老人申请助餐服务",
        "独居老人家中设施需要维修", "老人联系不上家属请协助",
    ),
    "property.repair": (
        "楼道灯不亮需要维修", "单元门门禁损坏", "电梯经常故障", "屋顶漏雨",
        "下水道堵塞反味",
    ),
    "utility.water": (
        "家中停水无通知", "自来水水压低", "自来水发黄有异味", "小区供水管道漏水",
        "水表井漏水",
    ),
    "utility.heating": (
        "家中暖气不热", "暖气漏水", "供暖温度不达标", "暖气片不热需要排气",
        "楼内部分住户暖气不热",
    ),
}  # fmt: skip
_ENDINGS = ("，请尽快处理。", "，已多次反映。", "，影响居民正常生活。", "。")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
_ANONYMOUS_SHARE = 0.12
_SOURCES = ("open311", "api", "page")  # 12345 hotline, the app, the web page
_SOURCE_SHARES = (0.55, 0.3, 0.15)
#: Why a level hands a request up (escalate: the reason the timeline records), by old level.
_REASONS = (
    "超出网格处置能力，提请片区协调",
    "需社区统筹处置",
    "需街道协调相关单位",
    "街乡吹哨，请职能部门报到处置",
)
#: Chance of an escalation before acceptance, by the level intake routed to.
_ESCALATION = {"micro": 0.04, "zone": 0.03, "community": 0.03, "street": 0.25}
#: Canonical roles of the lifecycle's parties at each level (``gridmap.requests.lifecycle``).
_REVIEWER = {
    "micro": "zone_leader",
    "zone": "zone_leader",
    "community": "chief",
    "street": "street_admin",
    "department": "street_admin",
}
_CLIMB: Final = service.CLIMB


@dataclass(frozen=True)
class _Step:
    action: str
    before: str | None
    after: str


#: The steps a generated timeline may hold, in the order they happen.
_STEPS: Final[tuple[_Step, ...]] = (
    _Step("report", None, "reported"),
    _Step("escalate", "reported", "reported"),
    _Step("mark_duplicate", "reported", "duplicate"),
    _Step("accept", "reported", "accepted"),
    _Step("start", "accepted", "handling"),
    _Step("complete", "handling", "completed"),
    _Step("rate", "completed", "feedback"),  # satisfied or basically satisfied
    _Step("rate", "completed", "handling"),  # unsatisfied: reopened
    _Step("complete", "handling", "completed"),  # again
    _Step("rate", "completed", "feedback"),  # the answer after the reopening
    _Step("archive", "feedback", "archived"),
    _Step("archive", "completed", "archived"),  # unanswered: the scheduler
)
(
    REPORT,
    ESCALATE,
    DUPLICATE,
    ACCEPT,
    START,
    COMPLETE,
    RATE,
    REOPEN,
    COMPLETE_AGAIN,
    RATE_AGAIN,
    ARCHIVE,
    ARCHIVE_UNRATED,
) = range(len(_STEPS))
_ACTORS = (
    "synth:12345",
    "synth:app",
    "synth:page",
    *(f"synth:{role}" for role in lifecycle.OWNER_ROLE.values()),
    "synth:resident",
    "synth:system",
)
_ACTOR = {name.removeprefix("synth:"): i + 1 for i, name in enumerate(_ACTORS)}
_STATES = lifecycle.STATES
_RATINGS = lifecycle.RATINGS


# ------------------------------------------------------------------------------------ reports


@dataclass(frozen=True)
class Hotspot:
    """A place where requests concentrate: its type, centre, width and trend."""

    kind: str
    name: str
    lon: float
    lat: float
    sigma_m: float
    trend: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Block:
    """Days drawn and written together (what ``progress`` is given)."""

    number: int
    first_day: dt.date
    last_day: dt.date
    requests: int


@dataclass
class Report:
    """What :func:`generate_requests` wrote."""

    requests: int
    events: int
    first_id: int | None
    last_id: int | None
    start: dt.datetime
    end: dt.datetime
    seconds: float
    states: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    hotspots: list[Hotspot] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return (self.requests + self.events) / self.seconds if self.seconds > 0 else 0.0

    def as_text(self) -> str:
        states = ", ".join(f"{k} {v:,}" for k, v in sorted(self.states.items()))
        trends = {t: sum(h.trend == t for h in self.hotspots) for t in ("emerging", "fading")}
        return "\n".join(
            [
                f"requests: {self.requests:,} written (ids {self.first_id}..{self.last_id}), "
                f"{self.events:,} events",
                f"  filed {self.start:%Y-%m-%d} .. {self.end:%Y-%m-%d %H:%M} (Asia/Shanghai)",
                f"  states: {states}",
                f"  hot spots: {len(self.hotspots)} ({trends['emerging']} emerging, "
                f"{trends['fading']} fading)",
                f"  {self.seconds:.1f} s, {self.requests / max(self.seconds, 1e-9):,.0f} "
                f"requests/s, {self.rows_per_second:,.0f} rows/s",
            ]
        )


# ---------------------------------------------------------------------------- the public verb


def generate_requests(
    connection_or_session: Connection | Session,
    *,
    count: int,
    seed: int,
    months: int = 12,
    end: dt.datetime | None = None,
    progress: ingest.Progress[Block] = iter,
    chunk_size: int = 200_000,
) -> Report:
    """Fill the database with ``count`` synthetic requests and their timelines.

    Parameters
    ----------
    connection_or_session
        Where to write, in its open transaction (not committed here).
    count : int
        How many requests, exactly (duplicates included).
    seed : int
        Seed of every random draw.
    months : int
        Calendar months covered, the last one being that of ``end``.
    end : datetime, optional
        The moment the data is "as of" (aware; default now): nothing happens after it.
    progress : callable
        Wraps the iterable of :class:`Block` (e.g. ``tqdm``).
    chunk_size : int
        Rows per COPY and per ``INSERT … SELECT`` (one tally update each).

    Returns
    -------
    Report

    Raises
    ------
    MissingCity
        The database holds no current micro-grids, households or demo categories.
    """
    _check_arguments(count, months, end, chunk_size)
    clock_started = time.perf_counter()
    conn = (
        connection_or_session.connection()
        if isinstance(connection_or_session, Session)
        else connection_or_session
    )
    city = _City.load(conn)
    span = _Span.ending(end or dt.datetime.now(dt.UTC), months)
    world = _World.build(city, span, seed)
    report = Report(
        requests=0,
        events=0,
        first_id=None,
        last_id=None,
        start=span.start.astimezone(TZ),
        end=span.end_time.astimezone(TZ),
        seconds=0.0,
        hotspots=world.hotspots(),
    )
    if count:
        _write_all(conn, world, count, seed, progress, chunk_size, report)
    report.seconds = time.perf_counter() - clock_started
    return report


def run(
    database_url: str,
    *,
    count: int,
    seed: int,
    months: int = 12,
    end: dt.datetime | None = None,
    progress: ingest.Progress[Block] = iter,
) -> Report:
    """:func:`generate_requests` on ``database_url`` in one transaction, audited, committed."""
    engine = create_engine(database_url, connect_args={"options": "-c timezone=Asia/Shanghai"})
    try:
        with Session(engine) as session:
            report = generate_requests(
                session, count=count, seed=seed, months=months, end=end, progress=progress
            )
            audit.record(
                session,
                "import.requests",
                username=f"cli:{getpass.getuser()}",
                origin=auth.Origin(user_agent="gen_requests"),
                detail={"written": report.requests, "events": report.events, "seed": seed},
            )
            session.commit()
    finally:
        engine.dispose()
    return report


def _check_arguments(count: int, months: int, end: dt.datetime | None, chunk_size: int) -> None:
    if type(count) is not int or count < 0:
        raise ValueError(f"count must be a whole number >= 0; got {count!r}")
    if type(months) is not int or not 1 <= months <= 60:
        raise ValueError(f"months must be a whole number from 1 to 60; got {months!r}")
    if end is not None and end.utcoffset() is None:
        raise ValueError(f"end must be a timezone-aware datetime; got {end!r}")
    if type(chunk_size) is not int or chunk_size < 1:
        raise ValueError(f"chunk_size must be a whole number >= 1; got {chunk_size!r}")


# ---------------------------------------------------------------------------------- the city


@dataclass
class _City:
    """The grid, households, staff and categories read from the database, in bulk."""

    micro_id: Ints
    micro_code: list[str]
    micro_geom: NDArray[np.object_]
    zone_code: list[str | None]
    community_code: list[str | None]
    zone_id: Ints
    community_id: Ints
    staff: dict[tuple[int, str], int]
    street_admin: Ints
    house_id: Ints
    house_lon: Floats
    house_lat: Floats
    house_micro: Ints
    house_residents: Floats
    house_cared: Bools
    category_id: Ints
    category_version: Ints
    category_level: list[str]
    limits: dict[str, tuple[Ints, Ints]]

    @classmethod
    def load(cls, conn: Connection) -> _City:
        micro = conn.execute(text(_MICRO_SQL)).all()
        if not micro:
            raise MissingCity(
                "The database holds no current micro-grid: load the demo city first "
                "(flask gridmap load-demo)."
            )
        ids = np.array([r.id for r in micro], dtype=np.int64)
        houses = conn.execute(text(_HOUSEHOLD_SQL)).all()
        if not houses:
            raise MissingCity("The database holds no household inside a micro-grid.")
        at = np.searchsorted(ids, np.array([h.micro_grid_id for h in houses], dtype=np.int64))
        codes = [r.code for r in micro]
        return cls(
            micro_id=ids,
            micro_code=codes,
            micro_geom=shapely.from_wkb([bytes(r.wkb) for r in micro]),
            zone_code=[r.zone_code for r in micro],
            community_code=[r.community_code for r in micro],
            zone_id=np.array([r.zone_id or -1 for r in micro], dtype=np.int64),
            community_id=np.array([r.community_id or -1 for r in micro], dtype=np.int64),
            staff={(r.grid_id, r.role): r.person_id for r in conn.execute(text(_STAFF_SQL))},
            street_admin=_street_admins(conn, codes),
            house_id=np.array([h.id for h in houses], dtype=np.int64),
            house_lon=np.array([h.lon for h in houses], dtype=np.float64),
            house_lat=np.array([h.lat for h in houses], dtype=np.float64),
            house_micro=at.astype(np.int64),
            house_residents=np.array([max(h.residents, 1) for h in houses], dtype=np.float64),
            house_cared=np.array([h.cared for h in houses], dtype=bool),
            **_categories(conn),
        )

    def routes(self) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
        """Owners by micro-grid: ``[g, start level]`` as intake routes (climbing, with
        :func:`gridmap.requests.service.climb`), and ``[g, level]`` at exactly a level
        (escalation: nobody there is the level's scope)."""
        n = len(self.micro_code)
        routed = np.empty((n, len(_CLIMB)), dtype=object)
        exact = np.empty((n, len(_CLIMB)), dtype=object)
        for g in range(n):
            found: dict[str, Owner | None] = {
                level: self._owner_of_level(g, level) for level in _CLIMB
            }
            for i, level in enumerate(_CLIMB):
                owner = found[level]
                exact[g, i] = owner or service.unstaffed(level, self._grid(g, level)[1])
                routed[g, i] = service.climb(level, found.__getitem__)
        return routed, exact

    def _owner_of_level(self, g: int, level: str) -> Owner | None:
        """As :func:`gridmap.requests.service.route` finds it, from the staff read in bulk."""
        if level == "street":
            return service.street_owner(self.micro_code[g], int(self.street_admin[g]) or None)
        grid_id, code = self._grid(g, level)
        return service.on_duty(level, code, self.staff.get((grid_id, GRID_ROLE[level])))

    def _grid(self, g: int, level: str) -> tuple[int, str | None]:
        if level == "micro":
            return int(self.micro_id[g]), self.micro_code[g]
        if level == "zone":
            return int(self.zone_id[g]), self.zone_code[g]
        return int(self.community_id[g]), self.community_code[g]


_MICRO_SQL = """
SELECT m.id, m.code, z.id AS zone_id, z.code AS zone_code, c.id AS community_id,
       c.code AS community_code, ST_AsBinary(m.geom) AS wkb
  FROM grid m
  LEFT JOIN grid z ON z.id = m.parent_id
  LEFT JOIN grid c ON c.id = z.parent_id
 WHERE m.level = 'micro' AND m.valid_to IS NULL
 ORDER BY m.id
"""
_HOUSEHOLD_SQL = """
SELECT h.id, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat, h.micro_grid_id, h.residents,
       h.care_tags && ARRAY['elderly_alone', 'disabled']::text[] AS cared
  FROM household h JOIN grid g ON g.id = h.micro_grid_id
 WHERE g.level = 'micro' AND g.valid_to IS NULL
 ORDER BY h.id
"""
# Today's staff, the longest-serving first (as gridmap.storage.requests.staff_of).
_STAFF_SQL = """
SELECT DISTINCT ON (grid_id, role) grid_id, role, person_id
  FROM assignment
 WHERE role IN ('grid_worker', 'zone_leader', 'chief')
   AND start_date <= current_date AND (end_date IS NULL OR end_date > current_date)
 ORDER BY grid_id, role, start_date, id
"""
_STREET_ADMIN_SQL = """
SELECT id, scope_code FROM app_user
 WHERE role = 'street_admin' AND active AND scope_code IS NOT NULL
 ORDER BY length(scope_code) DESC, id
"""
_CATEGORY_SQL = """
SELECT id, code, version, default_level, time_limits FROM category WHERE valid_to IS NULL
"""


def _street_admins(conn: Connection, codes: list[str]) -> Ints:
    """The narrowest active street administrator of each micro-grid (0: none)."""
    admins = conn.execute(text(_STREET_ADMIN_SQL)).all()
    return np.array(
        [next((a.id for a in admins if code.startswith(a.scope_code)), 0) for code in codes],
        dtype=np.int64,
    )


def _categories(conn: Connection) -> dict[str, Any]:
    """The current version of each modelled category with its limits per stage."""
    rows = {r.code: r for r in conn.execute(text(_CATEGORY_SQL))}
    missing = [m.code for m in CATEGORY_MODELS if m.code not in rows]
    if missing:
        raise MissingCity(
            f"The demo's request categories are missing ({', '.join(missing)}): load the demo "
            "city first (flask gridmap load-demo)."
        )
    chosen = [rows[m.code] for m in CATEGORY_MODELS]
    limits: dict[str, tuple[Ints, Ints]] = {}
    for stage in ("response", "handling", "feedback"):
        given = [
            r.time_limits.get(stage) if isinstance(r.time_limits, dict) else None for r in chosen
        ]
        limits[stage] = (
            np.array([int(g["amount"]) if g else 0 for g in given], dtype=np.int64),
            np.array([deadlines.UNIT_CODES[g["unit"]] if g else 0 for g in given], dtype=np.int64),
        )
    return {
        "category_id": np.array([r.id for r in chosen], dtype=np.int64),
        "category_version": np.array([r.version for r in chosen], dtype=np.int64),
        "category_level": [r.default_level for r in chosen],
        "limits": limits,
    }


# ----------------------------------------------------------------------------- the calendar


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


# -------------------------------------------------------------------------------- the span


@dataclass(frozen=True)
class _Span:
    """The calendar months covered, day by day, up to ``end``."""

    start: dt.datetime
    end_time: dt.datetime
    days: list[dt.date]
    day_start: Ints  # Unix seconds of each local midnight, and of the day after the last
    end: int

    @classmethod
    def ending(cls, end: dt.datetime, months: int) -> _Span:
        local = end.astimezone(TZ).replace(microsecond=0)
        index = local.year * 12 + local.month - 1 - (months - 1)
        first = dt.date(index // 12, index % 12 + 1, 1)
        days = [first + dt.timedelta(days=i) for i in range((local.date() - first).days + 1)]
        after = [*days, days[-1] + dt.timedelta(days=1)]
        starts = [_epoch(dt.datetime.combine(d, dt.time(), TZ)) for d in after]
        return cls(
            start=dt.datetime.combine(first, dt.time(), TZ),
            end_time=local,
            days=days,
            day_start=np.array(starts, dtype=np.int64),
            end=_epoch(local),
        )

    @property
    def last_day_seconds(self) -> int:
        """Seconds of the last day up to ``end``."""
        return self.end - int(self.day_start[-2])


def _day_factors(span: _Span) -> tuple[Floats, Bools]:
    """The calendar's weight of each day, and the days just after the Spring Festival."""
    festival = np.array([_spring_festival(d) for d in span.days])
    working = np.array([deadlines.is_working_day(d) for d in span.days])
    monday = np.array([d.weekday() == 0 for d in span.days])
    growth = 0.92 + 0.16 * np.linspace(0.0, 1.0, len(span.days))
    factor = np.where(working, np.where(monday, 1.08, 1.0), 0.7) * growth
    factor = np.where(festival, 0.55 * growth, factor)
    since = np.full(len(span.days), 10_000)
    last = -10_000
    for i, f in enumerate(festival.tolist()):
        last = i if f else last
        since[i] = i - last
    return factor, (since >= 1) & (since <= 12)


def _spring_festival(day: dt.date) -> bool:
    try:
        holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:  # a year the package does not know
        return False
    return bool(holiday) and name == chinese_calendar.Holiday.spring_festival.value


def _profile(name: str) -> Floats:
    """Cumulative hour-of-day weights at 0, 1, …, 24 h, from 0 to 1."""
    weights = np.array(_DAY_PROFILE, dtype=np.float64)
    for hour, extra in _PROFILE_BUMPS[name].items():
        weights[hour] += extra
    cumulative = np.concatenate(([0.0], np.cumsum(weights)))
    return cumulative / cumulative[-1]


# ------------------------------------------------------------------------------ the places


@dataclass
class _Places:
    """Hot-spot places: centre (metres), kernel, trend per day and pull per category."""

    types: list[PlaceType]
    x: Floats
    y: Floats
    sigma: Floats
    across: Floats  # 0: a round kernel
    angle: Floats
    trend: list[str]
    curve: Floats  # (places, days)
    pull: Floats  # (categories, places)


class _Plane:
    """Metres east and north of a centre, for kernels and nearest neighbours."""

    def __init__(self, lon: Floats, lat: Floats) -> None:
        self.lon0, self.lat0 = float(np.mean(lon)), float(np.mean(lat))
        self.kx = _METRES_PER_DEGREE[0] * float(np.cos(np.radians(self.lat0)))
        self.ky = _METRES_PER_DEGREE[1]

    def metres(self, lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def degrees(self, x: Floats, y: Floats) -> tuple[Floats, Floats]:
        return self.lon0 + x / self.kx, self.lat0 + y / self.ky


def _trend_curve(kind: str, u: Floats, rng: np.random.Generator) -> Floats:
    """A place's strength over the span (``u`` from 0 to 1)."""
    if kind == "emerging":
        onset, peak = rng.uniform(0.55, 0.75), rng.uniform(2.5, 4.0)
        return np.where(u < onset, 0.0, 0.1 + peak * (u - onset) / (1.0 - onset))
    if kind == "fading":
        turn = rng.uniform(0.25, 0.45)
        return np.clip(1.6 - 1.55 * (u - turn) / (0.85 - turn), 0.05, 1.6)
    return np.ones_like(u)


def _trends(rng: np.random.Generator, types: list[PlaceType]) -> list[str]:
    """Each place's trend; at least two emerging and two fading among those that may."""
    draws = rng.random(len(types))
    trend = [
        "emerging" if d < t.emerging else "fading" if d < t.emerging + t.fading else "stable"
        for d, t in zip(draws.tolist(), types, strict=True)
    ]
    for wanted in ("emerging", "fading"):
        able = [i for i, t in enumerate(types) if getattr(t, wanted) > 0 and trend[i] == "stable"]
        for i in able[: max(0, 2 - trend.count(wanted))]:
            trend[i] = wanted
    return trend


# ------------------------------------------------------------------------------- the world


@dataclass
class _World:
    """Everything the draws need: the city, its places, the calendar and the intensities."""

    city: _City
    span: _Span
    clock: deadlines.WorkingTimeTable
    plane: _Plane
    tree: Any  # cKDTree of the households, in metres
    places: _Places
    intensity: Floats  # (categories, 1 + places, days)
    post_festival: Bools
    texts: list[str]
    departments: list[str]
    text_ids: dict[str, int] = field(init=False, default_factory=dict)
    routed_owners: _Owners = field(init=False)
    exact_owners: _Owners = field(init=False)
    slowness: dict[str, Floats] = field(init=False)
    department_of: Ints = field(init=False)
    summoned: tuple[Ints, Ints] = field(init=False)
    descriptions: Ints = field(init=False)
    names: Ints = field(init=False)

    @classmethod
    def build(cls, city: _City, span: _Span, seed: int) -> _World:
        rng = np.random.default_rng([seed, 0])
        plane = _Plane(city.house_lon, city.house_lat)
        hx, hy = plane.metres(city.house_lon, city.house_lat)
        tree = cKDTree(np.column_stack([hx, hy]))
        places = _draw_places(rng, city, plane, len(span.days))
        factor, post_festival = _day_factors(span)
        world = cls(
            city=city,
            span=span,
            # Deadlines and late steps run past the end: a year of room.
            clock=deadlines.WorkingTimeTable(
                span.days[0], len(span.days) + 400, exact_until=span.days[-1] + _EXACT_AHEAD
            ),
            plane=plane,
            tree=tree,
            places=places,
            intensity=np.empty(0),
            post_festival=post_festival,
            texts=[],
            departments=sorted({m.department for m in CATEGORY_MODELS if m.department}),
        )
        world.intensity = world._intensity(factor)
        world.text_index([""])  # 1: the owner's "why" on its own steps
        world._register_texts(rng)
        return world

    def _register_texts(self, rng: np.random.Generator) -> None:
        """Owners by micro-grid, descriptions and contact names as indexes of the texts
        staged once (every text is known before the first row is written)."""
        routed, exact = self.city.routes()
        self.routed_owners = self._owner_arrays(routed)
        self.exact_owners = self._owner_arrays(exact)
        self.slowness = _slowness(rng, self.city, self.routed_owners)
        self.department_of = np.array(
            [
                self.departments.index(m.department) + 1 if m.department else 0
                for m in CATEGORY_MODELS
            ]
        )
        by_street = [service.summoned(d) for d in self.departments]
        self.summoned = (
            self.text_index(["", *(self._owner_json(o) for o in by_street)]),
            self.text_index(["", *(self._owner_json(o, plain=True) for o in by_street)]),
        )
        self.descriptions = np.array(
            [
                self.text_index(
                    [f"{text}{ending}" for text in _DESCRIPTIONS[m.code] for ending in _ENDINGS]
                )
                for m in CATEGORY_MODELS
            ]
        )
        self.names = self.text_index([f"{s}{t}" for s in _SURNAMES for t in ("先生", "女士")])

    def _owner_json(self, owner: Owner, *, plain: bool = False) -> str:
        """The ``owner`` of an event's detail, as :func:`gridmap.requests.service.owner_detail`
        writes it: why it was chosen on a hand-over, ``""`` on the owner's own steps."""
        routed = service.owner_detail(owner)
        if plain:
            routed["why"] = ""
        return json.dumps(routed, ensure_ascii=False)

    def _owner_arrays(self, owners: NDArray[np.object_]) -> _Owners:
        flat: list[Owner] = owners.ravel().tolist()
        detail = self.text_index([self._owner_json(o) for o in flat])
        plain = self.text_index([self._owner_json(o, plain=True) for o in flat])
        fields = [
            [LEVELS.index(o.level) for o in flat],
            [o.person_id or 0 for o in flat],
            [o.user_id or 0 for o in flat],
            [self.departments.index(o.department) + 1 if o.department else 0 for o in flat],
        ]
        arrays = [np.array(f, dtype=np.int64) for f in fields]
        return _Owners(*(a.reshape(owners.shape) for a in (*arrays, detail, plain)))

    def _intensity(self, day_factor: Floats) -> Floats:
        """Expected requests per (category, component, day), up to a constant."""
        months = np.array([d.month - 1 for d in self.span.days])
        n_places = self.places.x.size
        out = np.zeros((len(CATEGORY_MODELS), 1 + n_places, len(self.span.days)))
        mean_curve = self.places.curve.mean(axis=1)
        for c, model in enumerate(CATEGORY_MODELS):
            season = np.array(model.months) / np.mean(model.months)
            base = model.share * season[months] * day_factor
            if model.code == "sanitation.garbage":
                base = base * np.where(self.post_festival, 2.2, 1.0)
            base[-1] *= _share_of_day(_profile(model.profile), self.span.last_day_seconds)
            pull = self.places.pull[c]
            norm = float(pull @ mean_curve)
            hot = model.hot if norm > 0 else 0.0
            out[c, 0] = base * (1.0 - hot)
            if hot:
                out[c, 1:] = base * hot * (pull / norm)[:, None] * self.places.curve
        return out

    def hotspots(self) -> list[Hotspot]:
        p = self.places
        lon, lat = self.plane.degrees(p.x, p.y)
        return [
            Hotspot(
                kind=t.kind,
                name=t.name,
                lon=round(float(lon[i]), 7),
                lat=round(float(lat[i]), 7),
                sigma_m=round(float(p.sigma[i]), 1),
                trend=p.trend[i],
                categories=tuple(t.draws),
            )
            for i, t in enumerate(p.types)
        ]

    def text_index(self, values: Sequence[str]) -> Ints:
        """Indexes (1-based) of ``values`` in the texts the writer stages."""
        out = np.empty(len(values), dtype=np.int64)
        for i, value in enumerate(values):
            if value not in self.text_ids:
                self.texts.append(value)
                self.text_ids[value] = len(self.texts)
            out[i] = self.text_ids[value]
        return out


def _share_of_day(cdf: Floats, seconds: int) -> float:
    return float(np.interp(seconds / 3600.0, np.arange(25.0), cdf))


def _draw_places(rng: np.random.Generator, city: _City, plane: _Plane, n_days: int) -> _Places:
    types = [t for t in PLACE_TYPES for _ in range(t.count)]
    n = len(types)
    weights = city.house_residents / city.house_residents.sum()
    anchor = rng.choice(city.house_id.size, size=n, p=weights)
    ax, ay = plane.metres(city.house_lon[anchor], city.house_lat[anchor])
    x, y = ax + rng.normal(0, 120.0, n), ay + rng.normal(0, 120.0, n)
    lon, lat = plane.degrees(x, y)
    outside = locate_points(lon, lat, city.micro_id, city.micro_geom) < 0
    x[outside], y[outside] = ax[outside], ay[outside]  # a centre always lies in the city
    sigma = np.array([rng.uniform(*t.sigma) for t in types])
    across = np.array([rng.uniform(*t.across) if t.across else 0.0 for t in types])
    trend = _trends(rng, types)
    u = np.linspace(0.0, 1.0, n_days)
    curve = np.array([_trend_curve(k, u, rng) for k in trend]) * rng.lognormal(0, 0.4, (n, 1))
    pull = np.array([[t.draws.get(m.code, 0.0) for t in types] for m in CATEGORY_MODELS])
    angle = rng.uniform(0, np.pi, n)
    return _Places(types, x, y, sigma, across, angle, trend, curve, pull)


def _slowness(rng: np.random.Generator, city: _City, routed: _Owners) -> dict[str, Floats]:
    """Each owner's pace: delays are multiplied by it (some grids are slower than others)."""
    people = max([int(routed.person.max()), *city.staff.values()]) + 1
    users = int(city.street_admin.max()) + 1
    return {
        "person": rng.lognormal(0.0, 0.35, people),
        "user": rng.lognormal(0.0, 0.35, users),
        "department": rng.lognormal(0.15, 0.35, 16),
    }


# ------------------------------------------------------------------------- drawing requests


@dataclass
class _Drawn:
    """One block's requests, in filing order."""

    created: Ints
    category: Ints
    lon: Floats
    lat: Floats
    household: Ints  # index into the city's households, -1: filed from the street
    micro: Ints  # index into the city's micro-grids
    original: Ints  # position of the original (duplicates), else -1

    def take(self, order: Ints) -> _Drawn:
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        original = self.original[order]
        original = np.where(original >= 0, position[np.maximum(original, 0)], -1)
        return _Drawn(
            self.created[order],
            self.category[order],
            self.lon[order],
            self.lat[order],
            self.household[order],
            self.micro[order],
            original,
        )


def _blocks(counts: Ints, target: int) -> list[tuple[int, int]]:
    """Runs of days with about ``target`` requests each (a day is never split)."""
    per_day = counts.sum(axis=(0, 1))
    bounds, total, first = [], 0, 0
    for day, n in enumerate(per_day.tolist()):
        if total and total + n > target:
            bounds.append((first, day))
            first, total = day, 0
        total += n
    bounds.append((first, per_day.size))
    return bounds


def _draw_block(
    world: _World, rng: np.random.Generator, cells: Ints, first: int, duplicates: int
) -> _Drawn:
    """The block's requests (``cells``: counts per category, component and day from day
    ``first``): who, when and where; duplicates of some; sorted by filing time."""
    repeat = np.repeat(np.arange(cells.size), cells.ravel())
    category, component, day = np.unravel_index(repeat, cells.shape)
    category, component = category.astype(np.int64), component.astype(np.int64)
    created = _filing_times(world, rng, category, day.astype(np.int64) + first)
    lon, lat, household, micro = _places_of(world, rng, category, component)
    n = created.size
    base = _Drawn(created, category, lon, lat, household, micro, np.full(n, -1, dtype=np.int64))
    both = _with_duplicates(world, rng, base, min(duplicates, n))
    return both.take(np.lexsort((both.original >= 0, both.created)))


def _filing_times(world: _World, rng: np.random.Generator, category: Ints, day: Ints) -> Ints:
    """Filing moments: the day's local midnight plus an hour-of-day profile draw, never after
    the end."""
    u = rng.random(category.size)
    last = day == len(world.span.days) - 1
    seconds = np.zeros(category.size)
    for c, model in enumerate(CATEGORY_MODELS):
        pick = category == c
        cdf = _profile(model.profile)
        top = np.where(last[pick], _share_of_day(cdf, world.span.last_day_seconds), 1.0)
        seconds[pick] = 3600.0 * np.interp(u[pick] * top, cdf, np.arange(25.0))
    created = world.span.day_start[day] + np.floor(seconds).astype(np.int64)
    return np.minimum(created, world.span.end - 1)


def _places_of(
    world: _World, rng: np.random.Generator, category: Ints, component: Ints
) -> tuple[Floats, Floats, Ints, Ints]:
    """Where each request is filed: a household's point, or a point in the street."""
    city = world.city
    share = np.array([m.household for m in CATEGORY_MODELS])
    from_home = rng.random(category.size) < share[category]
    x, y = _kernel_points(world, rng, category, component)
    household = np.full(category.size, -1, dtype=np.int64)
    home = np.flatnonzero(from_home)
    household[home] = world.tree.query(np.column_stack([x[home], y[home]]))[1]
    lon, lat = world.plane.degrees(x, y)
    street = ~from_home
    lon[street], lat[street], micro_street = _located(world, rng, lon[street], lat[street])
    micro = np.empty(category.size, dtype=np.int64)
    micro[street] = micro_street
    micro[home] = city.house_micro[household[home]]
    lon[home], lat[home] = city.house_lon[household[home]], city.house_lat[household[home]]
    return lon, lat, household, micro


def _kernel_points(
    world: _World, rng: np.random.Generator, category: Ints, component: Ints
) -> tuple[Floats, Floats]:
    """Points (metres) around a place's centre, or around a household for the background."""
    city, p = world.city, world.places
    x, y = np.empty(category.size), np.empty(category.size)
    background = component == 0
    for cared in (False, True):
        pick = background & (category == _ELDERLY) if cared else background & (category != _ELDERLY)
        weights = city.house_residents * (np.where(city.house_cared, 25.0, 1.0) if cared else 1.0)
        chosen = rng.choice(city.house_id.size, size=int(pick.sum()), p=weights / weights.sum())
        hx, hy = world.plane.metres(city.house_lon[chosen], city.house_lat[chosen])
        x[pick], y[pick] = (
            hx + rng.normal(0, 60.0, chosen.size),
            hy + rng.normal(0, 60.0, chosen.size),
        )
    hot = np.flatnonzero(~background)
    place = component[hot] - 1
    along = rng.normal(0.0, 1.0, hot.size) * p.sigma[place]
    across = rng.normal(0.0, 1.0, hot.size) * np.where(
        p.across[place] > 0, p.across[place], p.sigma[place]
    )
    cos, sin = np.cos(p.angle[place]), np.sin(p.angle[place])
    x[hot] = p.x[place] + along * cos - across * sin
    y[hot] = p.y[place] + along * sin + across * cos
    return x, y


_ELDERLY = next(i for i, m in enumerate(CATEGORY_MODELS) if m.code == "elderly.care")


def _located(
    world: _World, rng: np.random.Generator, lon: Floats, lat: Floats
) -> tuple[Floats, Floats, Ints]:
    """Street points located to their micro-grid; those outside every one are moved towards
    the nearest household until inside (or onto it)."""
    city = world.city
    micro = _micro_index(city, lon, lat)
    for _ in range(6):
        out = np.flatnonzero(micro < 0)
        if out.size == 0:
            break
        x, y = world.plane.metres(lon[out], lat[out])
        near = world.tree.query(np.column_stack([x, y]))[1]
        hx, hy = world.plane.metres(city.house_lon[near], city.house_lat[near])
        t = rng.uniform(0.3, 1.0, out.size)
        lon[out], lat[out] = world.plane.degrees(hx + (x - hx) * (1 - t), hy + (y - hy) * (1 - t))
        micro[out] = _micro_index(city, lon[out], lat[out])
    out = np.flatnonzero(micro < 0)
    if out.size:
        x, y = world.plane.metres(lon[out], lat[out])
        near = world.tree.query(np.column_stack([x, y]))[1]
        lon[out], lat[out], micro[out] = (
            city.house_lon[near],
            city.house_lat[near],
            city.house_micro[near],
        )
    return lon, lat, micro


def _micro_index(city: _City, lon: Floats, lat: Floats) -> Ints:
    found = locate_points(lon, lat, city.micro_id, city.micro_geom)
    index = np.searchsorted(city.micro_id, found)
    return np.where(found >= 0, index, -1).astype(np.int64)


def _with_duplicates(world: _World, rng: np.random.Generator, base: _Drawn, n: int) -> _Drawn:
    """``base`` and ``n`` duplicates: the same problem filed again hours later, nearby or from
    the same home."""
    original = rng.choice(base.created.size, size=n, replace=False)
    delay = np.rint(rng.lognormal(np.log(3 * 3600.0), 1.0, n)).astype(np.int64) + 60
    created = base.created[original] + delay
    room = world.span.end - base.created[original]
    late = created >= world.span.end
    created[late] = base.created[original][late] + np.floor(
        rng.random(late.sum()) * room[late]
    ).astype(np.int64)
    same_home = (base.household[original] >= 0) & (rng.random(n) < 0.5)
    x, y = world.plane.metres(base.lon[original], base.lat[original])
    lon, lat = world.plane.degrees(x + rng.normal(0, 30.0, n), y + rng.normal(0, 30.0, n))
    lon, lat, micro = _located(world, rng, lon, lat)
    lon = np.where(same_home, base.lon[original], lon)
    lat = np.where(same_home, base.lat[original], lat)
    micro = np.where(same_home, base.micro[original], micro)
    return _Drawn(
        np.concatenate([base.created, created]),
        np.concatenate([base.category, base.category[original]]),
        np.concatenate([base.lon, lon]),
        np.concatenate([base.lat, lat]),
        np.concatenate([base.household, np.where(same_home, base.household[original], -1)]),
        np.concatenate([base.micro, micro]),
        np.concatenate([base.original, original.astype(np.int64)]),
    )


# ------------------------------------------------------------------------------- the lifecycle


_OWNER_FIELDS = ("level", "person", "user", "department", "detail", "plain")


@dataclass
class _Owners:
    """Owners as arrays: level index, person, user, department (1-based; 0 none), and the
    owner of an event's detail (text indexes): with why on a hand-over, plain otherwise."""

    level: Ints
    person: Ints
    user: Ints
    department: Ints
    detail: Ints
    plain: Ints

    def pick(self, *index: Ints) -> _Owners:
        return _Owners(*(getattr(self, f)[index] for f in _OWNER_FIELDS))

    def where(self, condition: Bools, other: _Owners) -> _Owners:
        return _Owners(
            *(np.where(condition, getattr(self, f), getattr(other, f)) for f in _OWNER_FIELDS)
        )


@dataclass
class _Timeline:
    """One block's timelines: when each step happens (NEVER: not taken, or after the end)
    and what the rows and events record."""

    at: Ints  # (steps, requests)
    routed: _Owners
    owner: _Owners  # after an escalation, if any
    started: Ints
    deadline: Ints
    step_deadline: Ints  # (steps, requests): the deadline an event records
    rating: Ints  # (steps, requests): 1-based rating an event records, 0 none
    actor: Ints  # (steps, requests)
    source: Ints
    reason: Ints
    last: Ints
    row_rating: Ints
    due: Ints


def _span_of(clock: deadlines.WorkingTimeTable, start: Ints, deadline: Ints) -> Ints:
    """The working time a stage allows (a working day when it has no limit)."""
    span = np.where(deadline < NEVER, clock.between(start, deadline), 7 * 3600)
    return np.maximum(span, 600)


def _limit(world: _World, stage: str, category: Ints) -> tuple[Ints, Ints]:
    """The stage's time limit of each request's category: amounts and unit codes."""
    amount, unit = world.city.limits[stage]
    return amount[category], unit[category]


def _intake(world: _World, rng: np.random.Generator, d: _Drawn) -> tuple[_Owners, _Owners, Bools]:
    """Routed owners, owners after an escalation, and which requests are escalated."""
    levels = np.array([min(LEVELS.index(lv), 3) for lv in world.city.category_level])
    routed = world.routed_owners.pick(d.micro, levels[d.category])
    summons = np.array([m.department is not None for m in CATEGORY_MODELS])
    chance = np.array([_ESCALATION[LEVELS[i]] for i in range(4)])[np.minimum(routed.level, 3)]
    chance = np.where((routed.level == 3) & ~summons[d.category], 0.0, chance)
    chance = np.where(routed.level >= 4, 0.0, chance)
    escalated = (rng.random(d.created.size) < chance) & (d.original < 0)
    up = np.minimum(routed.level + 1, 3)
    above = world.exact_owners.pick(d.micro, up)
    department = routed.level + 1 == 4
    summoned = _Owners(
        np.full(up.size, 4),
        np.zeros(up.size, dtype=np.int64),
        np.zeros(up.size, dtype=np.int64),
        world.department_of[d.category],
        world.summoned[0][world.department_of[d.category]],
        world.summoned[1][world.department_of[d.category]],
    )
    return routed, summoned.where(department, above), escalated


def _slowness_of(world: _World, owner: _Owners) -> Floats:
    s = world.slowness
    return np.select(
        [owner.person > 0, owner.user > 0, owner.department > 0],
        [
            s["person"][owner.person],
            s["user"][owner.user],
            s["department"][owner.department % s["department"].size],
        ],
        1.5,  # nobody on duty at the level: its scope gets round to it late
    )


def _live(world: _World, rng: np.random.Generator, d: _Drawn) -> _Timeline:
    """Every request's timeline up to the end of the span."""
    clock, n, cat = world.clock, d.created.size, d.category
    at = np.full((len(_STEPS), n), NEVER, dtype=np.int64)
    step_deadline = np.full((len(_STEPS), n), NEVER, dtype=np.int64)
    rating = np.zeros((len(_STEPS), n), dtype=np.int64)
    routed, above, escalated = _intake(world, rng, d)
    owner = above.where(escalated, routed)
    at[REPORT] = d.created
    first_deadline = clock.add_working_time(d.created, *_limit(world, "response", cat))
    moved = clock.after(
        d.created, _span_of(clock, d.created, first_deadline) * rng.uniform(0.1, 0.6, n)
    )
    at[ESCALATE] = np.where(escalated, moved, NEVER)
    opened = np.where(escalated, moved, d.created)
    step_deadline[ESCALATE] = clock.add_working_time(at[ESCALATE], *_limit(world, "response", cat))
    response_deadline = np.where(escalated, step_deadline[ESCALATE], first_deadline)
    response = _span_of(clock, opened, response_deadline)
    duplicate = d.original >= 0
    marked = clock.after(opened, response * rng.uniform(0.05, 0.7, n))
    at[DUPLICATE] = np.where(duplicate, marked, NEVER)
    slow = _slowness_of(world, owner) * np.where(rng.random(n) < 0.004, 15.0, 1.0)
    pace = rng.lognormal(np.log(0.3), 0.85, n) * slow
    at[ACCEPT] = np.where(duplicate, NEVER, clock.after(opened, np.maximum(pace * response, 60)))
    _handle(world, rng, cat, slow, at, step_deadline)
    reopened = _answer(
        world, rng, cat, at, step_deadline, rating, late=at[ACCEPT] > response_deadline
    )
    _reopen(world, rng, cat, slow, at, step_deadline, rating, reopened)
    at[at > world.span.end] = NEVER
    return _settle(world, rng, d, at, step_deadline, rating, routed, owner, first_deadline)


def _handle(
    world: _World, rng: np.random.Generator, cat: Ints, slow: Floats, at: Ints, step_deadline: Ints
) -> None:
    """处置: start soon after accepting, complete within (mostly) the handling limit."""
    clock, n = world.clock, cat.size
    accepted = at[ACCEPT]
    step_deadline[ACCEPT] = clock.add_working_time(accepted, *_limit(world, "handling", cat))
    handling = _span_of(clock, accepted, step_deadline[ACCEPT])
    at[START] = clock.after(accepted, np.maximum(rng.exponential(0.08, n) * handling, 30))
    pace = rng.lognormal(np.log(0.4), 0.7, n) * slow
    at[COMPLETE] = clock.after(at[START], np.maximum(pace * handling, 900))
    step_deadline[COMPLETE] = clock.add_working_time(at[COMPLETE], *_limit(world, "feedback", cat))


def _answer(
    world: _World,
    rng: np.random.Generator,
    cat: Ints,
    at: Ints,
    step_deadline: Ints,
    rating: Ints,
    *,
    late: Bools,
) -> Bools:
    """反馈: the resident's answer, or the scheduler's archive when none comes in the
    feedback window; returns which requests an unsatisfied resident reopens."""
    clock, n = world.clock, cat.size
    completed, feedback_deadline = at[COMPLETE], step_deadline[COMPLETE]
    late_handling = completed > step_deadline[ACCEPT]
    answered = (rng.random(n) < 0.85) | (feedback_deadline >= NEVER)
    unsatisfied = 0.06 + 0.15 * late_handling + 0.05 * late
    u = rng.random(n)
    first = np.where(u < unsatisfied, 3, np.where(u < unsatisfied + 0.16, 2, 1))
    window = _span_of(clock, completed, feedback_deadline)
    when = clock.after(completed, window * _answer_share(rng, n))
    reopened = answered & (first == 3)
    at[RATE] = np.where(answered & ~reopened, when, NEVER)
    at[REOPEN] = np.where(reopened, when, NEVER)
    rating[RATE], rating[REOPEN] = first, 3
    scheduler = feedback_deadline + rng.integers(60, 900, n)
    at[ARCHIVE_UNRATED] = np.where(~answered & (completed < NEVER), scheduler, NEVER)
    return reopened


def _reopen(
    world: _World,
    rng: np.random.Generator,
    cat: Ints,
    slow: Floats,
    at: Ints,
    step_deadline: Ints,
    rating: Ints,
    reopened: Bools,
) -> None:
    """Reopened: handled and completed again, then answered again (satisfied now) or not
    (the scheduler archives it, unsatisfied); an answered request is archived."""
    clock, n = world.clock, cat.size
    step_deadline[REOPEN] = clock.add_working_time(at[REOPEN], *_limit(world, "handling", cat))
    again = _span_of(clock, at[REOPEN], step_deadline[REOPEN])
    pace = np.maximum(rng.lognormal(np.log(0.35), 0.5, n) * slow * again, 60)
    at[COMPLETE_AGAIN] = clock.after(at[REOPEN], pace)
    second = clock.add_working_time(at[COMPLETE_AGAIN], *_limit(world, "feedback", cat))
    step_deadline[COMPLETE_AGAIN] = second
    answered = (rng.random(n) < 0.7) | (second >= NEVER)
    window = _span_of(clock, at[COMPLETE_AGAIN], second)
    answer = clock.after(at[COMPLETE_AGAIN], window * _answer_share(rng, n))
    at[RATE_AGAIN] = np.where(answered, answer, NEVER)
    rating[RATE_AGAIN] = np.where(rng.random(n) < 0.65, 1, 2)
    unanswered = reopened & ~answered & (at[COMPLETE_AGAIN] < NEVER)
    scheduler = second + rng.integers(60, 900, n)
    at[ARCHIVE_UNRATED] = np.where(unanswered, scheduler, at[ARCHIVE_UNRATED])
    last_answer = np.where(reopened, at[RATE_AGAIN], at[RATE])
    at[ARCHIVE] = clock.after(last_answer, rng.exponential(2.5 * 3600, n) + 120)


def _answer_share(rng: np.random.Generator, n: int) -> Floats:
    """When residents answer, as a share of the feedback window: most of them early."""
    return 0.02 + 0.9 * rng.random(n) ** 2


def _settle(
    world: _World,
    rng: np.random.Generator,
    d: _Drawn,
    at: Ints,
    step_deadline: Ints,
    rating: Ints,
    routed: _Owners,
    owner: _Owners,
    first_deadline: Ints,
) -> _Timeline:
    """The row's state from its last step: stage clock, rating, owner."""
    n = d.created.size
    present = at < NEVER
    last = (len(_STEPS) - 1 - np.argmax(present[::-1], axis=0)).astype(np.int64)
    reopened = present[REOPEN]
    columns = np.arange(n)
    # When the clock of the state after each step started (a step that keeps it: unchanged).
    clock_start = at.copy()
    clock_start[DUPLICATE] = np.where(present[ESCALATE], at[ESCALATE], at[REPORT])
    clock_start[START] = at[ACCEPT]
    clock_start[RATE] = at[COMPLETE]
    clock_start[RATE_AGAIN] = at[COMPLETE_AGAIN]
    clock_start[ARCHIVE] = np.where(reopened, at[COMPLETE_AGAIN], at[COMPLETE])
    clock_start[ARCHIVE_UNRATED] = np.where(reopened, at[COMPLETE_AGAIN], at[COMPLETE])
    running = step_deadline.copy()
    running[REPORT] = first_deadline
    running[START] = step_deadline[ACCEPT]
    for stopped in (DUPLICATE, RATE, RATE_AGAIN, ARCHIVE, ARCHIVE_UNRATED):
        running[stopped] = NEVER
    kept = rating.copy()
    kept[COMPLETE_AGAIN] = 3
    kept[ARCHIVE] = np.where(reopened, rating[RATE_AGAIN], rating[RATE])
    kept[ARCHIVE_UNRATED] = np.where(reopened, 3, 0)  # the rating is kept when it reopens
    now = owner.where(present[ESCALATE], routed)
    source = rng.choice(len(_SOURCES), size=n, p=_SOURCE_SHARES) + 1
    # The deadline of the last response stage opened: escalating restarts it.
    response = np.where(present[ESCALATE], step_deadline[ESCALATE], first_deadline)
    due = service.due_at_many(at[REPORT], response, at[ACCEPT], step_deadline[ACCEPT])
    return _Timeline(
        at=at,
        routed=routed,
        owner=now,
        started=clock_start[last, columns],
        deadline=running[last, columns],
        step_deadline=step_deadline,
        rating=np.where(present, rating, 0),
        actor=_actors(world, rng, routed, now, source),
        source=source,
        reason=np.minimum(routed.level, 3) + 1,
        last=last,
        row_rating=kept[last, columns],
        due=due,
    )


def _actors(
    world: _World, rng: np.random.Generator, routed: _Owners, now: _Owners, source: Ints
) -> Ints:
    """Who takes each step (1-based into the actors): the owner handles, a resident or a
    reviewer answers, a reviewer or the scheduler archives (``gridmap.requests.lifecycle``'s
    parties)."""
    n = source.size
    owner_role = np.array([_ACTOR[lifecycle.OWNER_ROLE[level]] for level in LEVELS])
    reviewer = np.array([_ACTOR[_REVIEWER[level]] for level in LEVELS])
    actor = np.zeros((len(_STEPS), n), dtype=np.int64)
    actor[REPORT] = source  # the first actors are the channels, in source order
    actor[ESCALATE] = owner_role[routed.level]
    for step in (DUPLICATE, ACCEPT, START, COMPLETE, COMPLETE_AGAIN):
        actor[step] = owner_role[now.level]
    for step in (RATE, REOPEN, RATE_AGAIN):
        actor[step] = np.where(rng.random(n) < 0.75, _ACTOR["resident"], reviewer[now.level])
    actor[ARCHIVE] = reviewer[now.level]
    actor[ARCHIVE_UNRATED] = _ACTOR["system"]
    return actor


# ----------------------------------------------------------------------------- rows and events

_REQUEST_COLUMNS: Final = (
    ("id", "int8"),
    ("category_id", "int4"),
    ("description", "int4"),
    ("lon", "float8"),
    ("lat", "float8"),
    ("household_id", "int8"),
    ("micro_grid_id", "int4"),
    ("level", "int2"),
    ("owner_person_id", "int4"),
    ("owner_user_id", "int4"),
    ("department", "int2"),
    ("state", "int2"),
    ("reopen_count", "int2"),
    ("rating", "int2"),
    ("duplicate_of", "int8"),
    ("contact_name", "int4"),
    ("contact_phone", "int8"),
    ("source", "int2"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("stage_started_at", "timestamptz"),
    ("stage_deadline", "timestamptz"),
    ("revision", "int4"),
    ("due_at", "timestamptz"),
)
_EVENT_COLUMNS: Final = (
    ("id", "int8"),
    ("request_id", "int8"),
    ("at", "timestamptz"),
    ("step", "int2"),
    ("actor", "int2"),
    ("level", "int2"),
    ("owner_person_id", "int4"),
    ("owner", "int4"),
    ("deadline", "timestamptz"),
    ("rating", "int2"),
    ("duplicate_of", "int8"),
    ("reason", "int2"),
    ("source", "int2"),
    ("category_version", "int4"),
)
_STATE_AFTER = np.array([_STATES.index(s.after) for s in _STEPS])


def _request_rows(
    world: _World, rng: np.random.Generator, d: _Drawn, life: _Timeline, ids: Ints
) -> dict[str, NDArray[Any]]:
    """The block's rows of ``resident_request`` (1-based codes, 0 for NULL)."""
    city, n = world.city, d.created.size
    present = life.at < NEVER
    columns = np.arange(n)
    named = rng.random(n) >= _ANONYMOUS_SHARE
    phone = 10_000_000_000 + rng.integers(0, 10_000_000, n)  # 1000xxxxxxx
    return {
        "id": ids,
        "category_id": city.category_id[d.category],
        "description": world.descriptions[
            d.category, rng.integers(0, world.descriptions.shape[1], n)
        ],
        "lon": d.lon,
        "lat": d.lat,
        "household_id": np.where(d.household >= 0, city.house_id[np.maximum(d.household, 0)], 0),
        "micro_grid_id": city.micro_id[d.micro],
        "level": life.owner.level + 1,
        "owner_person_id": life.owner.person,
        "owner_user_id": life.owner.user,
        "department": life.owner.department,
        "state": _STATE_AFTER[life.last] + 1,
        "reopen_count": present[REOPEN].astype(np.int64),
        "rating": life.row_rating,
        "duplicate_of": np.where(life.last == DUPLICATE, ids[np.maximum(d.original, 0)], 0),
        "contact_name": np.where(named, world.names[rng.integers(0, world.names.size, n)], 0),
        "contact_phone": np.where(named & (rng.random(n) < 0.9), phone, 0),
        "source": life.source,
        "created_at": d.created,
        "updated_at": life.at[life.last, columns],
        "stage_started_at": life.started,
        "stage_deadline": life.deadline,
        "revision": present.sum(axis=0) - 1,
        "due_at": life.due,
    }


def _event_rows(world: _World, d: _Drawn, life: _Timeline, ids: Ints) -> dict[str, NDArray[Any]]:
    """The block's rows of ``request_event``, request by request, step by step."""
    step, req = np.nonzero(life.at < NEVER)
    order = np.lexsort((step, req))
    step, req = step[order], req[order]
    report, escalate = step == REPORT, step == ESCALATE
    routed, now = life.routed, life.owner
    return {
        "id": np.zeros(step.size, dtype=np.int64),  # the writer takes them from the sequence
        "request_id": ids[req],
        "at": life.at[step, req],
        "step": step + 1,
        "actor": life.actor[step, req],
        "level": np.where(report, routed.level[req], now.level[req]) + 1,
        "owner_person_id": np.where(report, routed.person[req], now.person[req]),
        "owner": np.where(
            report, routed.detail[req], np.where(escalate, now.detail[req], now.plain[req])
        ),
        "deadline": life.step_deadline[step, req],
        "rating": life.rating[step, req],
        "duplicate_of": np.where(step == DUPLICATE, ids[np.maximum(d.original[req], 0)], 0),
        "reason": np.where(escalate, life.reason[req], 0),
        "source": np.where(report, life.source[req], 0),
        "category_version": np.where(report, world.city.category_version[d.category[req]], 0),
    }


_BINARY: Final = {
    "int2": ">i2",
    "int4": ">i4",
    "int8": ">i8",
    "float8": ">f8",
    "timestamptz": ">i8",
}
_SQL_TYPES: Final = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float8": "double precision",
    "timestamptz": "timestamptz",
}
_COPY_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_TRAILER: Final = b"\xff\xff"


def _binary_rows(columns: Sequence[tuple[str, str]], values: Mapping[str, NDArray[Any]]) -> Any:
    """Rows in PostgreSQL's binary COPY format as one structured array: every field has a
    fixed width (no NULL: the staging tables use 0 and 2000-01-01 for "none")."""
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for name, kind in columns:
        fields += [(f"{name}__size", ">i4"), (name, _BINARY[kind])]
    rows = np.empty(len(values[columns[0][0]]), dtype=fields)
    rows["count"] = len(columns)
    for name, kind in columns:
        rows[f"{name}__size"] = np.dtype(_BINARY[kind]).itemsize
        value = values[name]
        if kind == "timestamptz":
            value = np.where(value < NEVER, (value - _PG_EPOCH) * 1_000_000, 0)
        rows[name] = value
    return rows


@dataclass
class _Chunk:
    requests: Any
    events: Any


def _chunks(
    world: _World, rng: np.random.Generator, d: _Drawn, life: _Timeline, ids: Ints, size: int
) -> Iterator[_Chunk]:
    requests = _binary_rows(_REQUEST_COLUMNS, _request_rows(world, rng, d, life, ids))
    event_values = _event_rows(world, d, life, ids)
    events = _binary_rows(_EVENT_COLUMNS, event_values)
    owner = event_values["request_id"] - ids[0] if ids.size else np.zeros(0, dtype=np.int64)
    for lo in range(0, ids.size, size):
        a, b = np.searchsorted(owner, [lo, lo + size])
        yield _Chunk(requests[lo : lo + size], events[a:b])


# ---------------------------------------------------------------------------------- writing

_INSERT_REQUESTS = """
INSERT INTO resident_request
  (id, category_id, description, geom, household_id, micro_grid_id, level, owner_person_id,
   owner_user_id, department, state, reopen_count, rating, duplicate_of, contact_name,
   contact_phone, source, created_at, updated_at, stage_started_at, stage_deadline, revision,
   due_at)
SELECT s.id, s.category_id, d.body, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4490),
       NULLIF(s.household_id, 0), s.micro_grid_id, (%(levels)s::text[])[s.level],
       NULLIF(s.owner_person_id, 0), NULLIF(s.owner_user_id, 0),
       (%(departments)s::text[])[NULLIF(s.department, 0)], (%(states)s::text[])[s.state],
       s.reopen_count, (%(ratings)s::text[])[NULLIF(s.rating, 0)], NULLIF(s.duplicate_of, 0),
       n.body, NULLIF(s.contact_phone, 0)::text, (%(sources)s::text[])[s.source],
       s.created_at, s.updated_at, s.stage_started_at, NULLIF(s.stage_deadline, %(none)s),
       s.revision, s.due_at
  FROM pg_temp.synth_request s
  JOIN pg_temp.synth_text d ON d.idx = s.description
  LEFT JOIN pg_temp.synth_text n ON n.idx = s.contact_name
"""
# The event's detail as gridmap.requests.service writes it: what the move echoes, and its owner.
# Built as text (the owner's part staged once per owner) and parsed once: twice as fast as
# jsonb_build_object.
_INSERT_EVENTS = """
INSERT INTO request_event
  (id, request_id, at, actor, action, from_state, to_state, level, owner_person_id, detail)
SELECT s.id, s.request_id, s.at, (%(actors)s::text[])[s.actor], (%(actions)s::text[])[s.step],
       (%(befores)s::text[])[s.step], (%(afters)s::text[])[s.step],
       (%(levels)s::text[])[s.level], NULLIF(s.owner_person_id, 0),
       ('{'
        || CASE WHEN s.source > 0 THEN '"source": "' || (%(sources)s::text[])[s.source]
                || '", "category_version": ' || s.category_version || ', ' ELSE '' END
        || CASE WHEN s.reason > 0
                THEN '"reason": "' || (%(reasons)s::text[])[s.reason] || '", ' ELSE '' END
        || CASE WHEN s.rating > 0
                THEN '"rating": "' || (%(ratings)s::text[])[s.rating] || '", ' ELSE '' END
        || CASE WHEN s.duplicate_of > 0
                THEN '"duplicate_of": ' || s.duplicate_of || ', ' ELSE '' END
        || CASE WHEN s.step = %(reopen)s THEN '"reopened": true, ' ELSE '' END
        || CASE WHEN s.deadline <> %(none)s
                THEN '"deadline": "' || to_char(s.deadline AT TIME ZONE 'UTC',
                                                'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00", '
                ELSE '' END
        || '"owner": ' || o.body || '}')::jsonb
  FROM pg_temp.synth_event s
  JOIN pg_temp.synth_text o ON o.idx = s.owner
"""
_RESERVE = """
SELECT setval(pg_get_serial_sequence(%(table)s, 'id'),
              nextval(pg_get_serial_sequence(%(table)s, 'id')) + %(n)s - 1)
"""


def _reserve(cursor: Any, table: str, n: int) -> int:
    """The first of ``n`` ids taken from ``table``'s sequence at once."""
    cursor.execute(_RESERVE, {"table": table, "n": n})
    return int(cursor.fetchone()[0]) - n + 1


def _stage_table(name: str, columns: Sequence[tuple[str, str]]) -> str:
    body = ", ".join(f"{column} {_SQL_TYPES[kind]} NOT NULL" for column, kind in columns)
    return f"CREATE TEMP TABLE {name} ({body})"


class _Writer:
    """Moves chunks into the tables through the staging tables, in a thread of its own so
    that the database works while the next block is drawn."""

    def __init__(self, raw: Any, texts: list[str], departments: list[str]) -> None:
        self.raw = raw
        self.events = 0
        self.error: BaseException | None = None
        self.params: dict[str, Any] = {
            "levels": list(LEVELS),
            "states": list(_STATES),
            "ratings": list(_RATINGS),
            "sources": list(_SOURCES),
            "departments": departments,
            "actors": list(_ACTORS),
            "actions": [s.action for s in _STEPS],
            "befores": [s.before for s in _STEPS],
            "afters": [s.after for s in _STEPS],
            "reasons": list(_REASONS),
            "reopen": REOPEN + 1,
            "none": dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        }
        with raw.cursor() as cur:
            for name, columns in (
                ("synth_request", _REQUEST_COLUMNS),
                ("synth_event", _EVENT_COLUMNS),
            ):
                cur.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
                cur.execute(_stage_table(name, columns))
            cur.execute("DROP TABLE IF EXISTS pg_temp.synth_text")
            cur.execute(
                "CREATE TEMP TABLE synth_text (idx integer PRIMARY KEY, body text NOT NULL)"
            )
            with cur.copy("COPY synth_text (idx, body) FROM STDIN") as copy:
                for i, body in enumerate(texts, start=1):
                    copy.write_row((i, body))
            cur.execute("ANALYZE synth_text")
        self._queue: queue.Queue[_Chunk | None] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._work, name="synth-writer", daemon=True)
        self._thread.start()

    def put(self, chunk: _Chunk) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(chunk)

    def close(self, *, failed: bool = False) -> int:
        """Wait for the chunks in hand and drop the staging tables; returns the events
        written (re-raises what the thread met, unless the caller already failed)."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None and not failed:
            raise self.error
        if not failed:
            with self.raw.cursor() as cur:
                cur.execute(
                    "DROP TABLE pg_temp.synth_request, pg_temp.synth_event, pg_temp.synth_text"
                )
        return self.events

    def _work(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self.error is not None:
                continue  # drain: the main thread will raise it
            try:
                self._write(chunk)
            except BaseException as error:  # handed to the main thread
                self.error = error

    def _write(self, chunk: _Chunk) -> None:
        with self.raw.cursor() as cur:
            cur.execute("TRUNCATE pg_temp.synth_request, pg_temp.synth_event")
            self._copy(cur, "synth_request", chunk.requests)
            if chunk.events.size:
                first = _reserve(cur, "request_event", int(chunk.events.size))
                chunk.events["id"] = first + np.arange(chunk.events.size)
                self._copy(cur, "synth_event", chunk.events)
            cur.execute(_INSERT_REQUESTS, self.params)
            if chunk.events.size:
                cur.execute(_INSERT_EVENTS, self.params)
            self.events += int(chunk.events.size)

    @staticmethod
    def _copy(cur: Any, table: str, rows: Any) -> None:
        with cur.copy(f"COPY pg_temp.{table} FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(_COPY_HEADER)
            for lo in range(0, rows.size, 100_000):
                copy.write(rows[lo : lo + 100_000].tobytes())
            copy.write(_COPY_TRAILER)


def _write_all(
    conn: Connection,
    world: _World,
    count: int,
    seed: int,
    progress: ingest.Progress[Block],
    chunk_size: int,
    report: Report,
) -> None:
    """Draw the counts, then each block: requests, timelines, rows; hand chunks to the
    writer."""
    rng = np.random.default_rng([seed, 1])
    duplicates = round(count * DUPLICATE_SHARE)
    weights = world.intensity.ravel() / world.intensity.sum()
    counts = rng.multinomial(count - duplicates, weights).reshape(world.intensity.shape)
    bounds = _blocks(counts, chunk_size)
    base = np.array([counts[:, :, a:b].sum() for a, b in bounds], dtype=np.int64)
    extra = rng.multinomial(duplicates, base / base.sum()) if base.sum() else np.zeros_like(base)
    extra = np.minimum(extra, base)
    blocks = [
        Block(i + 1, world.span.days[a], world.span.days[b - 1], int(base[i] + extra[i]))
        for i, (a, b) in enumerate(bounds)
    ]
    raw = conn.connection.driver_connection
    assert raw is not None, "the connection is closed"
    with raw.cursor() as cur:
        next_id = _reserve(cur, "resident_request", sum(b.requests for b in blocks))
    report.first_id = next_id
    writer = _Writer(raw, world.texts, world.departments)
    try:
        for block in progress(blocks):
            a, b = bounds[block.number - 1]
            block_rng = np.random.default_rng([seed, 2, block.number])
            drawn = _draw_block(
                world, block_rng, counts[:, :, a:b], a, int(extra[block.number - 1])
            )
            life = _live(world, block_rng, drawn)
            ids = next_id + np.arange(drawn.created.size, dtype=np.int64)
            next_id += drawn.created.size
            _count(report, drawn, life)
            for chunk in _chunks(world, block_rng, drawn, life, ids, chunk_size):
                writer.put(chunk)
    except BaseException:
        writer.close(failed=True)
        raise
    report.events = writer.close()
    report.last_id = next_id - 1


def _count(report: Report, d: _Drawn, life: _Timeline) -> None:
    report.requests += d.created.size
    states = np.bincount(_STATE_AFTER[life.last], minlength=len(_STATES))
    for state, n in zip(_STATES, states.tolist(), strict=True):
        report.states[state] = report.states.get(state, 0) + n
    per_category = np.bincount(d.category, minlength=len(CATEGORY_MODELS))
    for model, n in zip(CATEGORY_MODELS, per_category.tolist(), strict=True):
        report.categories[model.code] = report.categories.get(model.code, 0) + n
