/*
 * pages/requests.js: the residents' request pages (群众诉求, 接诉即办).
 *
 * An ES module, no build step. start(map, config) starts the page named by config.page, each
 * in a module of ../requests/ (they import the shared core from ../core/):
 *   inbox   诉求工作台 (no map): the tabs 我的 / 即将到期 / 已超时 / 全部, a page at a time
 *   detail  诉求详情: fields, a small map of the place, the timeline and the allowed actions,
 *           each posted with If-Match (409: not allowed now; 412: changed meanwhile, reload)
 *   new     上报诉求: the intake form; a click on the map sets the place; one Idempotency-Key
 *           per filled-in form, so a double click or a retry files the request once
 *   map     诉求地图: the open requests in the visible area, coloured by 红黄牌
 *   ranking 红黑榜 (no map): the 三率 ranking of GET /api/v1/rates for a level and month
 * Everything is fetched from the API; nothing is inlined in the page. Text from the API is
 * always inserted as text, never as HTML.
 *
 * The element ids it uses are those of templates/requests*.html and request_*.html.
 */
import { Detail } from '../requests/detail.js';
import { Inbox } from '../requests/inbox.js';
import { Intake } from '../requests/intake.js';
import { RequestsMap } from '../requests/map.js';
import { Ranking } from '../requests/ranking.js';

const PAGES = {
  inbox: (map, config) => new Inbox(config),
  detail: (map, config) => new Detail(map, config),
  new: (map, config) => new Intake(map, config),
  map: (map, config) => new RequestsMap(map, config),
  ranking: (map, config) => new Ranking(config),
};

/** Start the page `config.page` (on the folium-created map, if the page has one). */
export function start(map, config) {
  return PAGES[config.page](map, config);
}
