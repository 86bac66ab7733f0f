/*
 * core/labels.js: the Chinese labels of the API's English codes, one place for every page
 * (they follow the server's glossary). A code with no label is shown as it is.
 */

/** Grid levels and the levels a request is handled at (办理层级). */
export const LEVEL_LABELS = {
  community: '社区',
  zone: '片区网格',
  micro: '微网格',
  street: '街道',
  department: '职能部门',
};

/** The posts of the grid staff (格中有人). */
export const ROLE_LABELS = {
  chief: '总网格长',
  zone_leader: '网格长',
  grid_worker: '网格员',
  building_leader: '楼栋长',
};

/** The kinds of people who cover households (党员分片包户). */
export const PERSON_KIND_LABELS = {
  party_member: '党员',
  in_service_member: '在职党员',
  grid_worker: '网格员',
  volunteer: '志愿者',
  building_leader: '楼栋长',
};

export const CARE_TAG_LABELS = {
  elderly_alone: '独居老人',
  disabled: '残疾人',
  low_income: '低保',
  left_behind_child: '留守儿童',
  veteran: '退役军人',
};

/** How a patrol reached a household. */
export const VISIT_HOW_LABELS = { check_in: '签到', pass_by: '经过' };

/** The states of a request (群众诉求). */
export const STATE_LABELS = {
  reported: '上报',
  accepted: '受理',
  handling: '处置',
  completed: '办结',
  feedback: '反馈',
  archived: '归档',
  duplicate: '重复',
};

/** The stages whose time limits run (响应/处置/回访), and their 红黄牌. */
export const STAGE_LABELS = { response: '响应', handling: '处置', feedback: '回访' };
export const CARD_LABELS = { green: '正常', yellow: '黄牌 即将到期', red: '红牌 已超时' };
/** Past its time limit (a request, a patrol duty). */
export const OVERDUE_LABEL = '超期';

export const RATING_LABELS = {
  satisfied: '满意', basically_satisfied: '基本满意', unsatisfied: '不满意',
};
export const SOURCE_LABELS = { api: '系统上报', open311: 'Open311', web: '页面上报' };
