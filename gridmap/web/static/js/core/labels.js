/*
 * core/labels.js: the Chinese labels of the API's English codes. They come from the server's
 * glossary (gridmap/core/glossary.py), which base.html writes into every page as JSON, so a
 * word is defined once for pages, reports and exports. A code with no label is shown as it is.
 */

const glossary = JSON.parse(document.getElementById('gm-glossary').textContent);

/** Grid levels and the levels a request is handled at (办理层级). */
export const LEVEL_LABELS = glossary.levels;
export const HOUSEHOLD_LABEL = glossary.household;
/** The posts of the grid staff (格中有人). */
export const ROLE_LABELS = glossary.gridRoles;
/** The kinds of people who cover households (党员分片包户). */
export const PERSON_KIND_LABELS = glossary.personKinds;
export const CARE_TAG_LABELS = glossary.careTags;
/** 楼栋: the buildings layer, the posts on a building (楼栋长, 单元长) and 党员中心户. */
export const BUILDING_LABELS = glossary.buildings;
/** How a patrol reached a household. */
export const VISIT_HOW_LABELS = glossary.visitHow;
export const VISIT_CHANNEL_LABELS = glossary.visitChannels;
export const VISIT_TOPIC_LABELS = glossary.visitTopics;
export const OUTBOX_QUEUE_LABELS = glossary.outboxQueue;
/** 双报到: how attendance was confirmed, the quarterly table's columns, the pages' words. */
export const ATTENDANCE_HOW_LABELS = glossary.attendanceHows;
export const PARTY_REPORT_COLUMN_LABELS = glossary.partyReportColumns;
/** 三张清单 and 微心愿: the pages' words, kinds and states. */
export const LISTS_LABELS = glossary.listsPages;
export const NEED_KIND_LABELS = glossary.needKinds;
export const RESOURCE_KIND_LABELS = glossary.resourceKinds;
export const NEED_STATE_LABELS = glossary.needStates;
export const MATCH_STATE_LABELS = glossary.matchStates;
export const WISH_STATE_LABELS = glossary.wishStates;
export const PARTY_LABELS = glossary.partyPages;
/** 党建地图: the chief's party map, its layers and legend. */
export const PARTY_MAP_LABELS = glossary.partyMap;
/** The states of a request (群众诉求). */
export const STATE_LABELS = glossary.states;
/** The actions on a request, in the order their buttons appear. */
export const ACTION_LABELS = glossary.actions;
/** The same actions on a department's request (部门报到: 报到, 退单). */
export const DEPARTMENT_ACTION_LABELS = glossary.departmentActions;
/** The stages whose time limits run (响应/处置/回访), and their 红黄牌. */
export const STAGE_LABELS = glossary.stages;
export const CARD_LABELS = glossary.cards;
/** The ranking boards (红黑榜). */
export const BOARD_LABELS = glossary.boards;
/** Why a unit is not ranked, and the mark of rows sharing a rank (并列). */
export const UNRANKED_LABELS = glossary.unranked;
/** The peer groups a unit is ranked in (同类比较: 微网格, 网格员, 职能部门…). */
export const PEER_LABELS = glossary.peers;
export const TIE_LABEL = glossary.tie;
/** Past its time limit (a request, a patrol duty). */
export const OVERDUE_LABEL = glossary.overdue;
export const RATING_LABELS = glossary.ratings;
/** 回访: 已解决/未解决, and how it was asked. */
export const RESOLVED_LABELS = glossary.resolvedAnswers;
export const CHANNEL_LABELS = glossary.callbackChannels;
export const URGENCY_LABELS = glossary.urgencies;
export const BASIS_LABELS = glossary.bases;
export const SOURCE_LABELS = glossary.sources;
export const WORK_LIST_KIND_LABELS = glossary.workListKinds;
export const HOT_SPOT_BIN_LABELS = glossary.hotSpotBins;
export const HOT_SPOT_TREND_LABELS = glossary.hotSpotTrends;
/** Background jobs: states and kinds (后台任务). */
/** What a balanced division proposal is: optimal, the best found in time, the greedy start. */
export const DIVISION_SOLUTION_LABELS = glossary.divisionSolutions;
export const JOB_STATE_LABELS = glossary.jobStates;
export const JOB_KIND_LABELS = glossary.jobKinds;
/** What a grid import would do to a grid (新增, 重绘, 撤销). */
export const IMPORT_CHANGE_LABELS = glossary.importChanges;
/** The service map (15分钟便民服务圈): the kinds of site and the page's words. */
export const SITE_KIND_LABELS = glossary.siteKinds;
export const SERVICE_MAP_LABELS = glossary.serviceMap;
/** What a page says when the API refuses, by problem code or status class (core/api.js). */
/** Names that stay as they are in Chinese text (products, file formats). */
export const NAMES_KEPT = new Set(glossary.namesKept);
export const PROBLEM_LABELS = glossary.problems;
export const PROBLEMS_BY_STATUS = glossary.problemsByStatus;
export const PROBLEM_STATUS_LABEL = glossary.problemStatus;
/** Photos (照片): their purposes and the words of the pickers and the timeline. */
export const PHOTO_LABELS = glossary.photos;
/** The outbox's kinds of message and the header bell's words (core/bell.js). */
export const OUTBOX_KIND_LABELS = glossary.outboxKinds;
export const NOTIFICATION_LABELS = glossary.notifications;
/** The residents' public channel (公众上报) and the state as a resident reads it. */
export const PUBLIC_LABELS = glossary.public;
export const STATE_NOTE_LABELS = glossary.stateNotes;
