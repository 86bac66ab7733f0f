"""The generator's model: what arises, how often, when in the year and the day, and where.

**How many, when.** The requests of a category ``c`` on day ``d`` in component ``k`` (its
background or one of its hot spots) have the intensity ::

    share_c · season_c(month of d) · day(d) · component_k,c(d)

drawn once with a multinomial, so the total is exactly ``count``. ``share_c`` is the
category's share of a year's requests (:data:`CATEGORY_MODELS`), ``season_c`` its monthly
weights (heating Nov–Mar, flooding Jun–Aug, construction in spring and autumn, vendors in
summer…), and ``day`` the calendar (:mod:`.span`): rest days and holidays
(``gridmap.requests.deadlines``, i.e. chinese-calendar, 调休 included) 0.7 of a working day,
Mondays 1.08, the Spring Festival holiday 0.55 (the city empties), a gentle growth of 16 %
over the span, and garbage ×2.2 in the twelve days after the Spring Festival. Within the day
the filing time follows an hour-of-day profile: working hours peak, few at night; vendors and
neighbours have an evening bump, construction noise a night and early-morning one, flooding
comes at any hour.

**Where** (:mod:`.places`, :mod:`.draw`): hot spots are typed places (:data:`PLACE_TYPES`),
each linked to the categories it draws; the rest of a category follows household density.
:data:`CategoryModel.household <CategoryModel>` is the share filed from a home.

**Contacts** are plainly synthetic: ``王先生``/``李女士`` and phone numbers ``1000xxxxxxx``
(:data:`SYNTHETIC_PHONE_PREFIX`, a range no carrier issues). Actors are ``synth:<role>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gridmap.core.clock import BEIJING
from gridmap.requests import deadlines, lifecycle

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]

TZ: Final = BEIJING
#: "Never happens": a step that is not taken, a stage without a time limit.
NEVER: Final = deadlines.NEVER
SYNTHETIC_PHONE_PREFIX: Final = "1000"
DUPLICATE_SHARE: Final = 0.01
LEVELS: Final = lifecycle.LEVELS


@dataclass(frozen=True)
class CategoryModel:
    """How the requests of one category arise.

    ``share`` of a year's requests; ``household``: the share filed from a home; ``hot``: the
    share around hot-spot places (the rest follows household density); ``profile``: the
    hour-of-day profile; ``months``: weights January to December; ``department``: the code of
    the department the street summons (街乡吹哨), if anyone (the demo's departments,
    :data:`gridmap.demo.loader.DEPARTMENTS`).
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
    CategoryModel("ads.billboard", 0.02, 0.05, 0.55, "day", _FLAT, "dc.cgw"),
    CategoryModel(
        "construction.noise", 0.09, 0.7, 0.65, "night",
        (0.3, 0.3, 1.3, 1.6, 1.5, 1.1, 1.0, 1.0, 1.5, 1.6, 1.2, 0.5),
    ),
    CategoryModel(
        "construction.debris", 0.03, 0.1, 0.7, "day",
        (0.3, 0.3, 1.3, 1.5, 1.4, 1.1, 1.0, 1.0, 1.4, 1.5, 1.1, 0.5),
        "dc.cgzf",
    ),
    CategoryModel(
        "emergency.hazard", 0.04, 0.3, 0.3, "day",
        (0.9, 0.9, 1.3, 1.4, 1.1, 1.2, 1.3, 1.2, 1.0, 0.9, 0.9, 1.0),
    ),
    CategoryModel(
        "emergency.flooding", 0.02, 0.15, 0.75, "storm",
        (0.05, 0.05, 0.05, 0.1, 0.4, 2.0, 5.0, 4.0, 1.0, 0.2, 0.05, 0.05),
        "dc.sw",
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
        "dc.gs",
    ),
    CategoryModel(
        "utility.heating", 0.09, 0.95, 0.3, "day",
        (5.0, 4.0, 2.2, 0.3, 0.1, 0.1, 0.1, 0.1, 0.15, 0.5, 3.0, 5.0),
        "dc.gr",
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
DESCRIPTIONS: Final[Mapping[str, tuple[str, ...]]] = {
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
ENDINGS = ("，请尽快处理。", "，已多次反映。", "，影响居民正常生活。", "。")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
ANONYMOUS_SHARE = 0.12
SOURCES = ("open311", "api", "page")  # 12345 hotline, the app, the web page
SOURCE_SHARES = (0.55, 0.3, 0.15)
#: Why a level hands a request up (escalate: the reason the timeline records), by old level.
REASONS = (
    "超出网格处置能力，提请片区协调",
    "需社区统筹处置",
    "需街道协调相关单位",
    "街乡吹哨，请职能部门报到处置",
)
#: Chance of an escalation before acceptance, by the level intake routed to.
ESCALATION = {"micro": 0.04, "zone": 0.03, "community": 0.03, "street": 0.25}


def profile(name: str) -> Floats:
    """Cumulative hour-of-day weights at 0, 1, …, 24 h, from 0 to 1."""
    weights = np.array(_DAY_PROFILE, dtype=np.float64)
    for hour, extra in _PROFILE_BUMPS[name].items():
        weights[hour] += extra
    cumulative = np.concatenate(([0.0], np.cumsum(weights)))
    shares: Floats = cumulative / cumulative[-1]
    return shares


def share_of_day(cdf: Floats, seconds: int) -> float:
    return float(np.interp(seconds / 3600.0, np.arange(25.0), cdf))
