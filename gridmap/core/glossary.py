"""The glossary (术语表): every Chinese label a user reads for a machine code, in one place.

Pages, reports, Excel exports and the page scripts (through :func:`for_pages`, which the base
template hands to every page) read these tables; codes stay English for machines only. A word
used in two places is the same word: the middle grid level is 片区网格 wherever it is shown,
a request past its deadline is 超期.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

#: Grid levels (社区—片区网格—微网格), and the units above them, by code.
LEVELS: Final = {
    "community": "社区",
    "zone": "片区网格",
    "micro": "微网格",
    "street": "街道",
    "department": "职能部门",
}
#: A grid's level by the length of its code: county 6, street 9, community 12, zone 14,
#: micro-grid 17 digits.
LEVELS_BY_CODE_LENGTH: Final = {
    6: "区县",
    9: "街道",
    12: LEVELS["community"],
    14: LEVELS["zone"],
    17: LEVELS["micro"],
}
GRID_KINDS: Final = {"ordinary": "综合网格", "dedicated": "专属网格"}

#: The five-step loop and its side states (上报—处置—办结—反馈—归档).
STATES: Final = {
    "reported": "待受理",
    "accepted": "已受理",
    "handling": "处置中",
    "completed": "已办结",
    "feedback": "已反馈",
    "archived": "已归档",
    "duplicate": "重复件",
}
#: Open311's status notes: the state as a resident reads it.
STATE_NOTES: Final = {
    "reported": "已上报，待受理",
    "accepted": "已受理",
    "handling": "处置中",
    "completed": "已办结，待回访",
    "feedback": "已回访",
    "archived": "已归档",
    "duplicate": "重复诉求，已并案",
}
ACTIONS: Final = {
    "report": "上报",
    "accept": "受理",
    "start": "开始处置",
    "complete": "办结",
    "rate": "评价",
    "archive": "归档",
    "escalate": "上报上级",
    "return": "退回",
    "reassign": "改派",
    "mark_duplicate": "标记重复",
    "comment": "备注",
    # Not a transition: the scheduler raised a card (红黄牌) on the timeline.
    "card": "红黄牌",
    "callback": "回访",
    "verify": "现场核查",
    "set_urgency": "调整紧急程度",
    "ask_extension": "申请延期",
    "approve_extension": "批准延期",
    "refuse_extension": "驳回延期",
    "add_cohandler": "协办",
    "supervise": "督办",
    "call_helpers": "社区吹哨",
}
#: How urgent a request is (``gridmap.requests.lifecycle.URGENCIES``).
URGENCIES: Final = {"normal": "一般", "urgent": "紧急", "critical": "特急"}
#: How a stage limit is counted (``gridmap.requests.deadlines.BASES``).
BASES: Final = {"working": "工作时间", "clock": "自然时间"}
#: The same actions as a summoned department names them (部门报到, 退单).
DEPARTMENT_ACTIONS: Final = {"accept": "报到", "return": "退单"}
STAGES: Final = {"response": "响应", "handling": "处置", "feedback": "回访"}
#: Why the scheduler (gridmap.requests.sweeps) acted, as its timeline events say.
SWEEP_REASONS: Final = {
    "archive": "办结后{days}天内居民未评价，系统自动归档",
    "escalate": "{stage}时限已到（{deadline}），按类别规则自动上报{level}",
}
#: Reminders in the outbox: the kind's name and its text.
OUTBOX_KINDS: Final = {
    "due_soon": "即将到期提醒",
    "overdue": "超期提醒",
    "assigned": "派单通知",
    "returned": "退单通知",
    "summoned": "吹哨通知",
    "accepted": "受理通知",
    "completed": "办结通知",
    "please_rate": "评价邀请",
    "verify_code": "验证码",
}
REMINDERS: Final = {
    "due_soon": "诉求 {id}（{category}）的{stage}时限将于 {deadline} 到期",
    "overdue": "诉求 {id}（{category}）的{stage}时限已于 {deadline} 到期，已超期",
}
#: The texts of the other messages (gridmap.requests.notices): to staff, to a summoned
#: department, and to the resident at the request's contact phone.
MESSAGES: Final = {
    "assigned": "诉求 {id}（{category}）已派给您办理，请及时受理",
    "returned": "诉求 {id}（{category}）已退回（退单）给您，请重新处理",
    "summoned": "街道吹哨：诉求 {id}（{category}）请{department}报到处置",
    "accepted": "您反映的诉求（编号 {id}，{category}）已受理，正在处理",
    "completed": "您反映的诉求（编号 {id}，{category}）已办结",
    "please_rate": "请对诉求（编号 {id}，{category}）的办理结果进行评价",
}
#: The public channel's one-time code (公众上报), by SMS.
CODE_MESSAGE: Final = "您的验证码为 {code}，{minutes} 分钟内有效。如非本人操作，请忽略。"
#: The page's bell and its list (static/js/core/bell.js).
NOTIFICATIONS: Final = {"title": "通知", "empty": "暂无通知", "failed": "通知暂时无法读取"}
#: The channels a message goes by (gridmap.notify), and how a message ended.
NOTICE_CHANNELS: Final = {"sms": "短信", "wecom": "企业微信群机器人", "page": "站内通知"}
NOTICE_OUTCOMES: Final = {
    "pending": "待发送",
    "sent": "已发送",
    "opted_out": "已退订，未发送",
    "gave_up": "多次发送失败，已放弃",
}
RATINGS: Final = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
#: A 回访's answer to "is it resolved?" and how it was asked.
RESOLVED_ANSWERS: Final = {"resolved": "已解决", "unresolved": "未解决"}
CALLBACK_CHANNELS: Final = {
    "phone": "电话回访",
    "on_site": "上门回访",
    "public": "群众端回访",
    "resident": "群众自评",
}
SOURCES: Final = {
    "api": "系统上报",
    "open311": "Open311",
    "page": "页面上报",
    "public": "公众上报",
}
#: The description of an Open311 request filed without one (GeoReport v2 makes it optional).
NO_DESCRIPTION: Final = "（未填写描述）"
#: A request past its stage deadline.
OVERDUE: Final = "超期"
#: The ranking boards (红黑榜).
BOARDS: Final[dict[str | None, str]] = {"red": "红榜", "black": "黑榜"}
#: Units ranked on the same board (同类比较): grids of one level, persons of one post, the
#: street's accounts, departments. A person is never ranked against a department.
PEERS: Final = {
    "micro": LEVELS["micro"],
    "zone": LEVELS["zone"],
    "community": LEVELS["community"],
    "person:grid_worker": "网格员",
    "person:zone_leader": "网格长",
    "person:chief": "总网格长",
    "user": "街道账号",
    "department": LEVELS["department"],
    "nobody": "无责任单位",
}
#: What the ranking ranks: grids of a level, or the units owning the requests (责任单位).
RANKING_BY: Final = {"grid": "网格", "owner": "责任单位"}
#: Why a row of the ranking has no rank (不排名原因).
UNRANKED: Final = {
    "no_owner": "无责任单位，不排名",
    "no_filed": "本期无受理诉求，不排名",
    "below_minimum": "本期受理诉求少于最低件数，不排名",
    "no_score": "无可计算的比率，不排名",
}
#: Rows sharing a rank.
TIE: Final = "并列"
#: What the ranking page and its downloads say of how it was made ({…}: filled in per table).
RANKING_NOTES: Final = {
    "period": ("统计周期", "{first} 至 {last}（北京时间），数据截至 {as_of}"),
    "response_rate": ("响应率", "按时响应数 ÷ 响应应计数（本期受理、已受理或响应已超期的诉求）"),
    "resolution_rate": ("解决率", "{resolution_formula}"),
    "satisfaction_rate": (
        "满意率",
        "（满意 + {basically} × 基本满意）÷ 评价数（本期回访或评价的诉求，各按最后一次回答）",
    ),
    "score": (
        "综合得分",
        "100 ×（响应率 × {response} + 解决率 × {resolution} + 满意率 × {satisfaction}）"
        "÷ 有值比率的权重之和；三率都无值则无得分",
    ),
    "min_filed": (
        "最低件数",
        "本期受理诉求不少于 {min_filed} 件才排名；不足的照常显示比率（括号内为件数），"
        "不排名、不上榜",
    ),
    "board": ("榜单", "每类前 {size}上红榜、后 {size}上黑榜（名次相同者并列）"),
    "tie": (
        "并列规则",
        "榜单边界上名次相同的单位全部上榜并标明并列；并列单位多于榜单名额时，"
        "依次按受理诉求数多、解决率高（黑榜为低）者上榜，仍相同的均不上榜",
    ),
    "peers": ("同类比较", "只与同类单位排名：{peers}"),
}
#: 解决率 as each ``GRIDMAP_RATE_RESOLUTION`` counts it (``requests.rates.Formula``).
RESOLUTION_FORMULAS: Final = {
    "answers": "回访已解决数 ÷ 回访数（本期回访或评价的诉求，各按最后一次回答）",
    "completion": "已办结数 ÷ 到期诉求数（处置期限落在本期且已到期的诉求）",
}
#: Warning cards (红黄牌).
CARDS: Final = {"green": "正常", "yellow": "黄牌 即将到期", "red": f"红牌 {OVERDUE}"}

#: Account roles.
USER_ROLES: Final = {
    "street_admin": "街道管理员",
    "chief": "总网格长",
    "zone_leader": "网格长",
    "grid_worker": "网格员",
    "department": "职能部门",
    "member": "党员",
    "unit": "单位党组织",
    "auditor": "审计员(只读)",
    "verifier": "核查回访员",
    "system_admin": "系统管理员",
    "security_admin": "安全管理员",
    "audit_admin": "审计管理员",
}
#: Roles of a person assigned to a grid.
GRID_ROLES: Final = {
    "chief": "总网格长",
    "zone_leader": "网格长",
    "grid_worker": "网格员",
    "building_leader": "楼栋长",
}
PERSON_KINDS: Final = {
    "party_member": "党员",
    "in_service_member": "在职党员",
    "grid_worker": "网格员",
    "volunteer": "志愿者",
    "building_leader": "楼栋长",
}
#: Buildings (楼栋), their units and posts, and 党员中心户, as the map and panel name them.
BUILDINGS: Final = {
    "layer": "楼栋",
    "building": "楼栋",
    "unit": "单元",
    "floors": "层数",
    "households": "住户数",
    "units": "单元数",
    "building_head": "楼栋长",
    "unit_head": "单元长",
    "central": "党员中心户",
    "looked_after_by": "联系的党员中心户",
    "is_central": "本户为党员中心户",
    "none": "未登记",
    "number_suffix": "号楼",
    "unit_suffix": "单元",
}
#: Households that need care (关爱对象).
CARE_TAGS: Final = {
    "elderly_alone": "独居老人",
    "disabled": "残疾人",
    "low_income": "低保",
    "left_behind_child": "留守儿童",
    "veteran": "退役军人",
}
HOUSEHOLD: Final = "住户"
#: The OGC API Features collections that are not a grid level (those are titled by LEVELS).
FEATURE_COLLECTIONS: Final = {
    "households": "住户（脱敏）",
    "requests": "群众诉求",
    "patrols": "巡查轨迹",
}
#: How a patrol reached a household.
VISIT_HOW: Final = {"check_in": "签到", "pass_by": "经过"}
#: 民情日志: how a member or grid worker visited a household, and the topics found.
VISIT_CHANNELS: Final = {"in_person": "入户", "phone": "电话", "wechat": "微信"}
VISIT_TOPICS: Final = {
    "health": "医疗健康",
    "housing": "住房",
    "employment": "就业",
    "disputes": "矛盾纠纷",
    "elderly_care": "养老照护",
    "safety": "安全隐患",
    "environment": "环境卫生",
    "policy": "政策咨询",
    "other": "其他",
}
#: What the offline worker page says of the writes it keeps until the connection returns.
OUTBOX_QUEUE: Final = {
    "title": "待发送",
    "empty": "全部已发送",
    "offline": "离线：记录已保存在本机，联网后自动发送",
    "sending": "正在发送…",
    "fixes": "定位点",
    "check_ins": "签到",
    "visits": "民情日志",
    "photos": "照片",
    "other": "其他操作",
}
#: 双报到: how attendance was confirmed, whether a member met the quarter's rule, the quarterly
#: table's columns and texts, and the pages' words.
ATTENDANCE_HOWS: Final = {"organiser": "组织者确认", "check_in": "现场签到"}
PARTY_MET: Final = {True: "达标", False: "未达标"}
PARTY_REPORT_COLUMNS: Final = {
    "community_name": "报到社区",
    "name": "姓名",
    "unit_name": "所在单位",
    "since": "报到起",
    "until": "报到止",
    "services": "本社区服务次数",
    "hours": "本社区服务时长（小时）",
    "quarter_services": "季度服务次数",
    "quarter_hours": "季度服务时长（小时）",
    "met": "是否达标",
}
PARTY_COMMUNITY_COLUMNS: Final = {
    "code": "社区代码",
    "name": "社区",
    "members": "在职党员",
    "met": "达标",
    "not_met": "未达标",
}
#: A quarter as people write it ("2026年第4季度"), in pages and workbooks alike.
PARTY_QUARTER: Final = "{year}年第{number}季度"
PARTY_REPORT: Final = {
    "title": "{quarter}在职党员双报到情况",
    "rule": "要求：每季度服务不少于{services}次、时长不少于{hours:g}小时",
    "summary": "共{members}人，达标{met}人，未达标{not_met}人",
    "by_community": "按社区",
    "computing": "统计服务情况",
    "writing": "生成文件",
}
PARTY_PAGES: Final = {
    "quarterName": PARTY_QUARTER,
    "myTitle": "我的双报到",
    "chiefTitle": "双报到",
    "community": "报到社区",
    "notRegistered": "尚未到社区报到",
    "register": "按家庭住址报到",
    "registerHow": "报到地址",
    "recordedHome": "登记的家庭住址",
    "currentPlace": "当前位置（请在家中操作）",
    "move": "搬家后重新报到",
    "moveNote": "搬家后重新报到：原社区的报到截至今天，此后在新社区服务。",
    "since": "报到日期",
    "cancel": "取消报名",
    "cancelled": "已取消报名",
    "posts": "我的服务岗位",
    "savePosts": "保存岗位",
    "saved": "已保存",
    "activities": "社区活动",
    "noActivities": "暂无活动",
    "signUp": "报名",
    "signedUp": "已报名",
    "full": "名额已满",
    "checkIn": "现场签到",
    "attended": "已出勤",
    "places": "名额",
    "quarter": "本季度",
    "services": "服务次数",
    "hours": "服务时长（小时）",
    "met": "达标",
    "notMet": "未达标",
    "publish": "发布活动",
    "title": "活动名称",
    "kind": "服务岗位",
    "startsAt": "开始时间",
    "endsAt": "结束时间",
    "placeName": "活动地点",
    "wanted": "需要人数",
    "signups": "报名与出勤",
    "confirm": "确认出勤",
    "report": "季度双报到情况",
    "export": "导出 Excel",
    "locating": "正在定位…",
    "noLocation": "无法获取位置，请允许定位后重试。",
}
#: 党建地图: the chief's party map, its layers and legend.
PARTY_MAP: Final = {
    "title": "党建地图",
    "layers": "图层",
    "legend": "图例",
    "buildings": "楼栋",
    "centrals": "党员中心户及联系户",
    "posts": "楼栋长、单元长与服务岗位",
    "members": "在职党员住址",
    "coverage": "包户覆盖",
    "buildingHead": "有楼栋长的楼栋",
    "noHead": "未设楼栋长的楼栋",
    "central": "党员中心户",
    "neighbour": "联系户",
    "post": "岗位",
    "member": "在职党员（已报到）",
    "servicePosts": "服务岗位",
    "unit": "所在单位",
    "community": "报到社区",
    "covered": "已包户",
    "households": "住户",
    "rate": "覆盖率",
    "full": "全部覆盖",
    "most": "80%及以上",
    "half": "50%–80%",
    "low": "50%以下",
    "empty": "无住户",
    "neighbours": "联系户数",
    "phone": "电话",
    "reveal": "显示",
    "note": "姓名、电话按权限脱敏显示；显示电话会记入审计日志。",
}
#: 三张清单 and 微心愿: kinds, states and the pages' words.
LISTS_PAGES: Final = {
    "chiefTitle": "三张清单",
    "claimTitle": "身边可认领",
    "needs": "需求清单",
    "resources": "资源清单",
    "matches": "服务清单",
    "wishes": "微心愿",
    "need": "需求",
    "resource": "资源",
    "wish": "微心愿",
    "nearResource": "附近资源",
    "claim": "认领",
    "claimed": "已认领",
    "confirm": "确认",
    "decline": "退回",
    "confirmWish": "确认已实现",
    "nothing": "暂无",
    "nothingNear": "附近暂无可认领的需求和微心愿",
    "distance": "距离约",
    "metres": "米",
    "veryNear": "距离不足100米",
    "toNeed": "转为需求",
    "wishRecorded": "微心愿已登记",
    "offered": "资源已登记",
    "needRecorded": "需求已登记",
    "proofPhoto": "请选择一张实现心愿的照片",
    "fulfil": "上传照片并完成",
    "fulfilled": "已提交，等待社区确认",
    "toNeedDone": "已转为需求",
    "fromVisit": "走访发现",
    "provider": "认领方",
    "member": "在职党员",
    "unit": "单位",
    "legend": "图例",
    "legendNeed": "待认领需求",
    "legendResource": "可用资源",
    "legendLink": "需求与附近资源（1公里内）",
    "counts": "微心愿认领统计",
}
NEED_KINDS: Final = {
    "care": "生活照料",
    "repair": "维修帮助",
    "errand": "代办跑腿",
    "companion": "陪伴关爱",
    "learning": "学习辅导",
    "health": "医疗健康",
    "other": "其他",
}
RESOURCE_KINDS: Final = {
    "room": "场地",
    "skill": "技能",
    "vehicle": "车辆",
    "money": "资金",
    "time": "志愿时间",
}
NEED_STATES: Final = {"open": "待认领", "matched": "已认领", "done": "已完成", "closed": "已关闭"}
MATCH_STATES: Final = {
    "proposed": "待确认",
    "confirmed": "实施中",
    "done": "已完成",
    "declined": "已退回",
}
WISH_STATES: Final = {
    "open": "待认领",
    "claimed": "已认领",
    "fulfilled": "已实现待确认",
    "confirmed": "已确认",
    "withdrawn": "已撤回",
}
#: The kinds of work list (3+N 工作清单).
WORK_LIST_KINDS: Final = {
    "daily_patrol": "日巡查",
    "weekly_visit": "周探访",
    "monthly_survey": "月摸排",
    "special": "专项",
}

#: Gi* confidence bins of the hot-spot review.
HOT_SPOT_BINS: Final = {
    3: "热点（99%）",
    2: "热点（95%）",
    1: "热点（90%）",
    0: "不显著",
    -1: "冷点（90%）",
    -2: "冷点（95%）",
    -3: "冷点（99%）",
}
#: Trend kinds of a hot spot (未诉先办).
HOT_SPOT_TRENDS: Final = {
    "new": "新增热点",
    "intensifying": "加剧热点",
    "diminishing": "减弱热点",
    "persistent": "持续热点",
    "consecutive": "连续热点",
    "sporadic": "零星热点",
    "historical": "历史热点",
    "cold": "冷点",
    "none": "无明显模式",
}

#: Background jobs (后台任务): their states and kinds.
#: What a balanced division proposal is (``gridmap.spatial.balance.SOLUTIONS``).
DIVISION_SOLUTIONS: Final = {
    "optimal": "最优",
    "best_found": "已到求解时限，采用求得的最好方案",
    "greedy_start": "已到求解时限，采用全覆盖的初始方案",
}
JOB_STATES: Final = {
    "queued": "排队中",
    "running": "进行中",
    "succeeded": "已完成",
    "failed": "失败",
}
JOB_KINDS: Final = {
    "grid.validate": "网格文件检查",
    "grid.import": "网格导入",
    "review.report": "一月一研判报告",
    "requests.rates": "三率排名导出",
    "exports.gis": "GIS 数据导出",
    "party.report": "双报到季度报表",
    "services.sites": "服务点位导入",
    "services.network": "步行路网导入",
    "services.refresh": "15分钟服务圈计算",
    "onenet.import": "外部门网格导入",
    "onenet.overlay": "一张网比对",
}
#: The coordinate systems a grid file may be declared in on the import page.
INPUT_CRS: Final = {
    "EPSG:4490": "CGCS2000 经纬度（EPSG:4490，国家标准）",
    "EPSG:4326": "WGS 84 经纬度（EPSG:4326，GPS）",
    "GCJ02": "GCJ-02（高德、腾讯地图）",
    "BD09": "BD-09（百度地图）",
    "projected": "CGCS2000 高斯-克吕格投影（米，EPSG:4491–4554）",
}
#: What a grid import would do to a grid (the import page's diff).
IMPORT_CHANGES: Final = {
    "new": "新增",
    "changed": "重绘",
    "retired": "撤销",
    "current": "现有网格",
    "file": "上传文件中的网格",
    "problem": "问题",
}

#: The layers and formats of the GIS exports (导出, ``gridmap.exports``).
EXPORT_LAYERS: Final = {
    "households": "住户",
    "grids": "网格",
    "requests": "诉求",
    "review": "诉求研判（按微网格）",
    "onenet": "一张网比对（外部门网格）",
}
EXPORT_FORMATS: Final = {
    "geojson": "GeoJSON",
    "gpkg": "GeoPackage",
    "csv": "CSV（经纬度或 WKT）",
}
#: Column headings of the GIS exports' CSV for people (``header=zh``); the GeoJSON and
#: GeoPackage keep the English field names, and ``lon``/``lat``/``wkt`` stay as they are so
#: GIS tools find the geometry.
EXPORT_FIELDS: Final = {
    "id": "编号",
    "address": "地址",
    "building": "楼栋",
    "unit": "单元",
    "room": "房号",
    "residents": "居住人数",
    "care_tags": "关爱对象",
    "micro_grid_code": "微网格编码",
    "covered": "是否包户",
    "code": "网格编码",
    "name": "网格名称",
    "level": "层级",
    "kind": "网格类型",
    "parent_code": "上级网格编码",
    "valid_from": "生效日期",
    "valid_to": "失效日期",
    "state": "状态",
    "category_code": "类别编码",
    "category_name": "诉求类别",
    "description": "诉求内容",
    "household_id": "住户编号",
    "owner_name": "承办人",
    "owner_phone": "承办人电话",
    "department": "承办部门",
    "source": "来源",
    "reopen_count": "重新办理次数",
    "rating": "评价",
    "duplicate_of": "重复于",
    "created_at": "上报时间",
    "updated_at": "更新时间",
    "stage": "当前阶段",
    "stage_deadline": "阶段时限",
    "warning": "预警",
    # The review layer (一月一研判, a micro-grid per feature); code and name are the grid's.
    "zone_code": "片区网格编码",
    "period": "研判周期",
    "households": "住户数",
    "requests": "诉求数",
    "overdue": "超期诉求数",
    "per_100_households": "每百户诉求数",
    "hot_spot_z": "Gi* z 值",
    "hot_spot_p": "p 值",
    "hot_spot_bin": "热点分级",
    "hot_spot_trend": "热点趋势",
    "worsening": "趋势恶化",
    "candidate": "未诉先办候选",
    "response_rate": "响应率",
    "resolution_rate": "解决率",
    "satisfaction_rate": "满意率",
    # The 一张网 layer (a foreign cell per feature; code and name are the cell's).
    "status": "比对结果",
    "area_m2": "面积（平方米）",
    "best_grid_code": "最接近的我方网格",
    "hausdorff_m": "边界最大偏差（米）",
    "symdiff_m2": "不重合面积（平方米）",
    "pieces": "切分情况（我方网格:占比）",
}
YES_NO: Final = {True: "是", False: "否"}

#: 一张网 (多网合一): the departments whose grids are brought into one with ours, by code.
ONENET_DEPARTMENTS: Final = {
    "zongzhi": "综治网格",
    "police": "公安警格",
    "chengguan": "城管网格",
    "fire": "消防网格",
    "market": "市场监管网格",
    "other": "其他部门网格",
}
#: A foreign cell's verdict against our grid.
ONENET_STATUSES: Final = {
    "aligned": "一致",
    "merges": "由我方整网格组成",
    "splits": "切分我方网格",
    "outside": "不在我方网格内",
}
#: What a foreign layer does to one of our units.
ONENET_VERDICTS: Final = {"aligned": "一致", "split": "被切分", "whole": "整体包含"}
#: The 一张网 page's words.
ONENET: Final = {
    "title": "一张网比对",
    "nav": "一张网",
    "layer": "外部门网格图层",
    "department": "部门",
    "ours": "我方网格",
    "theirs": "外部门网格",
    "cells": "网格数",
    "summary": "各社区距“一张网”",
    "units": "我方网格数",
    "alignedUnits": "一致",
    "splitUnits": "被切分",
    "areaShare": "一致面积占比",
    "householdShare": "一致户数占比",
    "table": "比对明细",
    "cell": "外部门网格",
    "status": "比对结果",
    "pieces": "切分情况",
    "households": "住户数",
    "hausdorff": "边界最大偏差（米）",
    "stale": "任一图层已变化，比对结果待更新",
    "refresh": "重新比对",
    "export": "导出比对结果",
    "import": "导入外部门网格",
    "name": "图层名称",
    "compareLevel": "比对层级",
    "rule": "一致的标准：边界最大偏差（Hausdorff 距离）不超过 {tolerance} 米",
    "none": "还没有外部门网格图层",
    "none_ask": "外部门网格图层由街道管理员在本页导入。",
    "notes": "图层自身问题（重叠、缝隙）",
    "computedAt": "比对时间",
    "community": LEVELS["community"],
    "format": "格式",
    "file": "文件",
    "crs": "坐标系",
    "progress": "进度",
    "upload": "上传并比对",
    "fileNote": (
        "Shapefile（.zip 压缩包）、GeoPackage、KML 或 GeoJSON，"
        "每个网格一个编码（code 或“网格编码”）。"
    ),
    "draft": "下载吸附草稿",
    "draftNote": "草稿：我方网格吸附到一致的外部门网格边界上，可在“网格导入”页面上传检查后导入。",
    "draftEmpty": "没有一致的网格，无需吸附。",
}
#: Warning cards as a cell (红黄牌).
WARNING_CELLS: Final = {"green": "正常", "yellow": "黄牌", "red": "红牌"}

#: The monthly report's charts, as a screen reader names them (an image's text alternative).
REPORT_CHARTS: Final = {
    "categories": "各类诉求数量条形图",
    "trend": "近月诉求数量趋势折线图",
    "choropleth": "各网格诉求数量分级设色地图",
    "hot_spots": "诉求冷热点分布地图",
}
#: Names that stay as they are in Chinese text: products, file formats and their extensions,
#: coordinate systems. A problem's ``detail`` that holds no other Latin word is Chinese enough
#: to show (core/api.js).
NAMES_KEPT: Final = (
    "Excel",
    "CSV",
    "GeoJSON",
    "GeoPackage",
    "gpkg",
    "GPX",
    "KML",
    "Shapefile",
    "shp",
    "dbf",
    "shx",
    "prj",
    "zip",
    "Open311",
    "CGCS2000",
    "EPSG",
    "WGS",
    "GCJ",
    "BD",
    "GPS",
    "IP",
)

#: The audit log's actions (审计日志的操作) as the audit page names them. A refused call is
#: recorded under its endpoint, which is not listed: the page says 其他操作 and shows the
#: endpoint beside it as a code.
AUDIT_ACTIONS: Final = {
    "login": "登录",
    "logout": "退出登录",
    "reveal": "查看明文",
    "export": "导出",
    "export.request": "申请导出",
    "user.create": "创建账号",
    "user.password_reset": "重置密码（一次性密码）",
    "user.password_change": "修改密码",
    "user.password": "服务器上设置密码",
    "user.role": "授予角色",
    "user.unlock": "解锁账号",
    "user.notices_read": "阅读通知",
    "user.notifications_optout": "退订或恢复消息通知",
    "notification.optout": "为接收方退订或恢复消息通知",
    "department.wecom_robot": "设置部门企业微信群机器人",
    "api_key.issue": "签发接口密钥",
    "api_key.revoke": "吊销接口密钥",
    "category.revise": "修改诉求类别",
    "public.code": "公众上报：发送验证码",
    "public.photo": "公众上报：上传照片",
    "public.file": "公众上报：提交诉求",
    "public.rate": "公众上报：评价",
    "public.mine": "公众上报：查询我的诉求",
    "department.create": "新建职能部门",
    "grid_import.upload": "上传网格文件",
    "grid_import.confirm": "确认导入网格",
    "import.grids": "导入网格",
    "import.foreign_layer": "导入外部门网格",
    "onenet.upload": "上传外部门网格文件",
    "onenet.overlay": "申请一张网比对",
    "import.people": "导入人员",
    "import.households": "导入住户",
    "import.assignments": "导入网格任职",
    "import.coverage": "导入党员包户",
    "import.requests": "导入诉求",
    "import.demo": "导入示范数据",
    "import.service_sites": "导入服务点位",
    "import.walk_network": "导入步行路网",
    "service_import.upload": "上传服务点位或路网文件",
    "service_map.refresh": "重新计算15分钟服务圈",
    "request.create": "上报诉求",
    "file.upload": "上传照片",
    "rates.request": "申请导出满意率",
    "review_report.request": "申请研判报告",
    "staff.assign": "分配网格人员",
    "staff.end": "结束网格任职",
    "coverage.division": "分配包户",
    "patrol.start": "开始巡查",
    "patrol.check_in": "巡查签到",
    "patrol.end": "结束巡查",
    "patrol.upload": "上传巡查轨迹",
    "visit.record": "记录民情日志",
    "building.create": "登记楼栋",
    "building.update": "修改楼栋",
    "building.post": "任命楼栋长/单元长",
    "building.post_end": "免去楼栋长/单元长",
    "central.designate": "设立党员中心户",
    "central.neighbours": "调整中心户联系户",
    "central.end": "撤销党员中心户",
    "import.buildings": "导入楼栋",
    "party.unit": "登记单位党组织",
    "party.register": "在职党员报到",
    "party.posts": "认领服务岗位",
    "party.publish": "发布社区活动",
    "party.signup": "报名社区活动",
    "party.cancel": "取消活动报名",
    "party.check_in": "活动签到",
    "party.need": "登记需求",
    "party.offer": "登记资源",
    "party.claim": "认领需求",
    "party.match": "需求与资源对接",
    "party.match_confirm": "确认服务项目",
    "party.match_decline": "退回服务项目",
    "party.match_done": "服务项目完成",
    "party.wish": "登记微心愿",
    "party.wish_claim": "认领微心愿",
    "party.wish_fulfil": "实现微心愿",
    "party.wish_confirm": "确认微心愿",
    "party.confirm": "确认活动出勤",
    "party.report": "导出双报到报表",
    "retention.prune": "清理过期数据",
}
#: What an audit row's action was done to (审计日志的对象类型).
AUDIT_OBJECTS: Final = {
    "person": "人员",
    "household": "住户",
    "user": "账号",
    "audit": "审计日志",
    "request": "诉求",
    "job": "后台任务",
    "grid": "网格",
    "patrol": "巡查",
    "visit": "民情日志",
    "file": "照片",
    "party_unit": "单位党组织",
    "party_activity": "社区活动",
    "party_report": "双报到报表",
    "api_key": "接口密钥",
    "category": "诉求类别",
    "department": "职能部门",
    "phone": "手机号",
    "rates": "满意率",
    "report": "报表",
    "review_report": "研判报告",
    "building": "楼栋",
    "central_household": "党员中心户",
    "party_need": "需求",
    "party_resource": "资源",
    "party_match": "服务项目",
    "small_wish": "微心愿",
    "foreign_layer": "外部门网格",
}
#: How an audited action ended.
AUDIT_OUTCOMES: Final = {"ok": "成功", "denied": "拒绝", "failed": "失败"}
#: An audited action that is not in AUDIT_ACTIONS (a refused call's endpoint).
AUDIT_OTHER_ACTION: Final = "其他操作"

#: What a page tells its user when the API refuses (problem+json ``code`` → message). The API
#: keeps its English ``title`` for machines; a page shows these instead, with the ``detail``
#: only when the detail is Chinese (core/api.js). A code not listed falls back to its status.
PROBLEMS: Final = {
    "bad-request": "请求有误，请检查填写的内容。",
    "invalid-input": "填写的内容不正确，请检查后重试。",
    "unprocessable": "提交的数据不符合规则，无法处理。",
    "too-large-for-request": "数据量过大，无法直接生成，请改用后台任务。",
    "too-large": "文件过大，无法处理。",
    "not-found": "没有找到，或不在您的管辖范围内。",
    "conflict": "操作冲突：数据已被他人修改，请刷新后重试。",
    "stale": "数据已被他人修改，请刷新后重试。",
    "precondition-required": "页面数据已过期，请刷新后重试。",
    "unavailable": "服务暂时不可用，请稍后再试。",
    "unauthorized": "登录已失效，请刷新页面重新登录。",
    "forbidden": "您的角色无权进行此操作。",
    "login-throttled": "登录失败次数过多，请稍后再试。",
    "one-time-password-expired": "一次性密码已过期，请联系系统管理员重新重置密码。",
    "patrol-ended": "这次巡查已经结束。",
    "illegal-transition": "当前状态不允许此操作，请刷新查看最新状态。",
    "own-work": "不能评价、核查或回访自己办理或负责的诉求。",
    "own-deadline": "负责人只能提高诉求的紧急程度，降低须由上级调整。",
    "check-missing": "该类别须经现场核查（附照片）后才能回访归档，尚未核查。",
    "after-photo-missing": "该类别须上传处置后照片才能办结，请先添加处置后照片。",
    "not-a-photo": "这不是照片：只接受常见的照片格式（按文件内容检查，不看文件名）。",
    "photo-too-large": "照片太大，请压缩后再上传。",
    "bad-photo": "照片无法使用：图片损坏、像素过多或夹带了其他内容。",
    "import-rejected": "文件未通过检查，无法导入。",
    "no-linked-person": "您的账号没有关联到网格人员：只有网格员本人可以记录巡查。",
    "division-infeasible": "按当前设置无法分配：每人包户数的上下限与住户数不相符，请调整后重试。",
    "missing-city": "数据库中还没有示范城市（网格、住户和诉求类别），无法生成示范诉求。",
    "method-not-allowed": "不支持这种操作方式。",
    "request-entity-too-large": "提交的内容超过了允许的大小。",
    "too-many-requests": "操作过于频繁，请稍后再试。",
    "unsupported-media-type": "提交的文件类型不受支持。",
    "code-wrong": "验证码不正确，请重新输入。",
    "code-expired": "验证码已过期或已使用，请重新获取。",
    "code-locked": "验证码输错次数过多，请重新获取。",
    "captcha-required": "操作较频繁，请先填写图形验证码。",
    "captcha-wrong": "图形验证码不正确或已过期，请看清后重新输入。",
    "outside-district": "该位置不在本辖区内，请在地图上重新选择位置。",
    "category-closed": "该类别不能在此反映，请选择其他类别。",
    "too-many-photos": "照片数量已达上限。",
    "already-rated": "这件诉求已经评价过了，每件诉求只能评价一次。",
    "not-rateable": "诉求办结后才能评价。",
    "activity-full": "活动名额已满。",
    "need-taken": "该需求已被认领。",
    "wish-taken": "该微心愿已被他人认领。",
    "wrong-state": "当前状态不允许此操作，请刷新后重试。",
    "check-in-too-far": "您离活动地点太远，请到现场后再签到。",
    "activity-not-now": "不在活动时间内：报名截止于活动结束，签到须在活动进行中。",
    "not-registered": "请先到居住地社区报到（双报到）。",
    "internal": "服务器出了问题，请稍后再试；如果问题持续，请联系系统管理员。",
}
#: The message of a problem whose code is not in PROBLEMS, by HTTP status class.
PROBLEMS_BY_STATUS: Final = {
    "4xx": "请求未能完成，请检查后重试。",
    "5xx": "服务器出了问题，请稍后再试。",
}
#: A problem's status as the page says it ("（错误 422）").
PROBLEM_STATUS: Final = "错误 {status}"

#: Notices to an account's user about their account (``{at}`` Beijing time, ``{actor}`` the
#: administrator's username).
NOTICES: Final = {
    "password_reset": "您的密码已于 {at} 由系统管理员 {actor} 重置",
}


def label(table: Mapping[str, str], code: str | None) -> str:
    """``code``'s label in ``table``; an unknown code is shown as it is, never dropped."""
    if code is None:
        return ""
    return table.get(code, code)


#: Photos (照片): what each is for, and the words of the photo pickers and the timeline.
PHOTO_PURPOSES = {
    "intake": "现场照片",
    "before": "处置前照片",
    "after": "处置后照片",
    "check_in": "签到照片",
    "visit": "走访照片",
}
PHOTOS = {
    "purposes": PHOTO_PURPOSES,
    "add": "添加照片（可拍照）",
    "uploading": "照片上传中…",
    "uploaded": "已添加",
    "remove": "移除",
    "open": "查看原图",
    "link": "照片链接",
    "wait": "请等待照片上传完成",
    "kept": "已保存在本机，随记录发送",
    "next_check_in": "下一次签到附带的照片（一张）",
}


#: The residents' public channel (公众上报): the filing page, the status page, 我的诉求.
PUBLIC: Final = {
    "title": "我要反映",
    "statusTitle": "诉求进度",
    "category": "问题类别",
    "choose": "请选择",
    "place": "问题位置",
    "placeHint": "点击地图选择位置，或使用手机定位",
    "locate": "使用我的位置",
    "locating": "正在定位…",
    "locateFailed": "无法获取位置，请在地图上点选",
    "placeChosen": "已选择位置",
    "noPlace": "请先选择问题位置",
    "description": "问题描述",
    "descriptionHint": "请描述问题的具体情况（5—500字）",
    "photos": "现场照片（选填，最多{n}张）",
    "phone": "手机号码",
    "phoneHint": "仅工作人员可见，用于告知办理进度",
    "captcha": "图形验证码",
    "captchaRefresh": "换一张",
    "getCode": "获取验证码",
    "codeSent": "验证码已发送（{seconds}秒后可重新获取）",
    "code": "短信验证码",
    "submit": "提交",
    "submitting": "提交中…",
    "filed": "提交成功",
    "trackingNumber": "查询码",
    "keepIt": "请记下查询码，凭它查询办理进度和评价。",
    "follow": "查看进度",
    "lookup": "查询进度",
    "lookupHint": "输入查询码",
    "mine": "我的诉求",
    "mineHint": "用手机号验证后查看您反映过的全部诉求",
    "none": "没有找到诉求",
    "timeline": "办理进度",
    "yourPhotos": "您上传的照片",
    "rate": "评价办理结果",
    "resolved": "问题是否解决",
    "rating": "是否满意",
    "comment": "补充说明（选填）",
    "sendRating": "提交评价",
    "rated": "感谢您的评价",
    "yourAnswer": "您的评价",
    "newOne": "再反映一个问题",
}

#: The service map (15分钟便民服务圈, ``gridmap.services``): the kinds of service site and the
#: page's words.
SITE_KINDS: Final = {
    "centre_street": "街道党群服务中心",
    "centre_community": "社区党群服务中心",
    "station": "党群服务站",
    "canteen": "助餐点",
    "clinic": "社区卫生服务站",
    "day_care": "日间照料中心",
    "convenience": "便民服务点",
}
SERVICE_MAP: Final = {
    "title": "15分钟便民服务圈",
    "sites": "服务点位",
    "circles": "步行服务圈",
    "minutes": "{minutes} 分钟步行",
    "gaps": "服务圈外住户（缺口）",
    "gapShare": "圈外住户占比",
    "candidates": "建议新增点位",
    "candidate": "第 {rank} 候选：可新覆盖 {households} 户",
    "network": "步行路网",
    "table": "各社区、微网格覆盖情况",
    "community": "社区",
    "micro": "微网格",
    "households": "住户",
    "uncovered": "圈外住户",
    "covered": "覆盖率",
    "refreshedAt": "计算时间",
    "stale": "点位或路网已变更，结果待重新计算",
    "never": "尚未计算",
    "speed": "步行速度 {speed} 米/秒",
    "components": "路网连通片数 {components}，与主网不连通的节点 {detached} 个",
    "hours": "开放时间",
    "services": "服务项目",
    "address": "地址",
    "empty": "没有数据",
    "legend": "图例",
    "upload": "导入与重新计算",
    "what": "导入内容",
    "file": "文件",
    "crs": "坐标系",
    "submit": "上传并导入",
    "refresh": "重新计算服务圈",
    "imported": "导入完成，服务圈已重新计算",
    "refreshed": "服务圈已重新计算",
}


def for_pages() -> dict[str, object]:
    """The tables the page scripts read (``window`` config ``glossary``), JSON-ready."""
    return {
        "levels": LEVELS,
        "household": HOUSEHOLD,
        "gridKinds": GRID_KINDS,
        "states": STATES,
        "actions": ACTIONS,
        "departmentActions": DEPARTMENT_ACTIONS,
        "stages": STAGES,
        "ratings": RATINGS,
        "resolvedAnswers": RESOLVED_ANSWERS,
        "callbackChannels": CALLBACK_CHANNELS,
        "urgencies": URGENCIES,
        "bases": BASES,
        "sources": SOURCES,
        "overdue": OVERDUE,
        "cards": CARDS,
        "boards": BOARDS,
        "peers": PEERS,
        "unranked": UNRANKED,
        "tie": TIE,
        "userRoles": USER_ROLES,
        "gridRoles": GRID_ROLES,
        "personKinds": PERSON_KINDS,
        "careTags": CARE_TAGS,
        "buildings": BUILDINGS,
        "visitHow": VISIT_HOW,
        "visitChannels": VISIT_CHANNELS,
        "visitTopics": VISIT_TOPICS,
        "outboxQueue": OUTBOX_QUEUE,
        "workListKinds": WORK_LIST_KINDS,
        "attendanceHows": ATTENDANCE_HOWS,
        "partyReportColumns": PARTY_REPORT_COLUMNS,
        "partyPages": PARTY_PAGES,
        "listsPages": LISTS_PAGES,
        "partyMap": PARTY_MAP,
        "needKinds": NEED_KINDS,
        "resourceKinds": RESOURCE_KINDS,
        "needStates": NEED_STATES,
        "matchStates": MATCH_STATES,
        "wishStates": WISH_STATES,
        "hotSpotBins": {str(k): v for k, v in HOT_SPOT_BINS.items()},
        "hotSpotTrends": HOT_SPOT_TRENDS,
        "divisionSolutions": DIVISION_SOLUTIONS,
        "jobStates": JOB_STATES,
        "jobKinds": JOB_KINDS,
        "inputCrs": INPUT_CRS,
        "importChanges": IMPORT_CHANGES,
        "siteKinds": SITE_KINDS,
        "serviceMap": SERVICE_MAP,
        "onenet": ONENET,
        "onenetDepartments": ONENET_DEPARTMENTS,
        "onenetStatuses": ONENET_STATUSES,
        "onenetVerdicts": ONENET_VERDICTS,
        "exportLayers": EXPORT_LAYERS,
        "exportFormats": EXPORT_FORMATS,
        "namesKept": list(NAMES_KEPT),
        "photos": PHOTOS,
        "public": PUBLIC,
        "stateNotes": STATE_NOTES,
        "outboxKinds": OUTBOX_KINDS,
        "notifications": NOTIFICATIONS,
        "problems": PROBLEMS,
        "problemsByStatus": PROBLEMS_BY_STATUS,
        "problemStatus": PROBLEM_STATUS,
    }
