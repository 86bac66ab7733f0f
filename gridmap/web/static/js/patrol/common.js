/* patrol/common.js: what the two patrol pages share — colours, distances, the grid outline. */
import { requestJson } from '../core/api.js';

export const COLOURS = {
  track: '#1f4e9c',
  due: '#d7301f',
  done: '#2e9d4f',
  checkIn: '#7b2cbf',
  passBy: '#e07b00',
  overdue: '#d7301f',
  grid: '#3c8d7a',
};

export function metres(value) {
  if (value === null || value === undefined) return '—';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} 公里` : `${Math.round(value)} 米`;
}



/** The caller's micro-grids as a faint outline (what the map opens on). */
export async function gridOutline(map, config, latLng) {
  const body = await requestJson(`${config.apiRoot}/grids?level=micro&limit=500`);
  return L.geoJSON(body, {
    coordsToLatLng: (c) => latLng(c[0], c[1]),
    style: { color: COLOURS.grid, weight: 1.5, fillOpacity: 0.03 },
    interactive: false,
  }).addTo(map);
}
