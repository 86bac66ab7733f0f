/*
 * pages/public.js: the residents' public channel (公众上报), no account needed. start(map,
 * config) starts the page named by config.page:
 *   file    我要反映: category, place (map or the phone's location), words, photos, phone code
 *   status  诉求进度: by tracking number, the timeline in plain words, the rating once
 *   track   查询进度 by tracking number, and 我的诉求 after a phone code
 * Everything comes from /api/v1/public; text from the API is inserted as text, never HTML.
 */
import { Filing } from '../public/file.js';
import { Status, Track } from '../public/status.js';

const PAGES = {
  file: (map, config) => new Filing(map, config),
  status: (map, config) => new Status(config),
  track: (map, config) => new Track(config),
};

export function start(map, config) {
  return PAGES[config.page](map, config);
}
