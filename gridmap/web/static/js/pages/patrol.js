/*
 * pages/patrol.js: the patrol pages (巡查走访, 3+N work lists).
 *
 * An ES module, no build step. start(map, config) starts the page named by config.page, each
 * in a module of ../patrol/ (they import the shared core from ../core/):
 *   worker  巡查走访 (a worker's phone): today's lists with what is done and due; start and end
 *           a patrol; while it runs the browser's position is posted in numbered batches every
 *           few seconds (a batch is retried with its Idempotency-Key and the same numbers, so a
 *           retry stores nothing twice); check in at a household of the running list; upload a
 *           GPX/GeoJSON track; a small map with the live track and the list's households
 *   replay  巡查回放 (a chief): a day's patrols in scope, one replayed on the map (track,
 *           check-ins, households reached by check-in or pass-by) with a time slider, and the
 *           overdue duties (counts per worker and micro-grid, and their map layer)
 * Everything is fetched from the API; text from the API is always inserted as text.
 *
 * The element ids it uses are those of templates/patrol.html and patrols.html.
 */
import { Replay } from '../patrol/replay.js';
import { WorkerPage } from '../patrol/worker.js';

const PAGES = {
  worker: (map, config) => new WorkerPage(map, config),
  replay: (map, config) => new Replay(map, config),
};

/** Start the page `config.page` on the folium-created map. */
export function start(map, config) {
  return PAGES[config.page](map, config);
}
