/*
 * assign/shared.js: the assignment page's colours, posts, report columns and the little
 * geometry it does in the browser (display lon/lat; a few hundred points, so plain loops).
 */

// Member colours: no reds (red means uncovered), nothing too pale on the grey map.
export const PALETTE = [
  '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#17becf', '#8c564b', '#e377c2', '#bcbd22',
  '#393b79', '#637939', '#8c6d31', '#7b4173', '#3182bd', '#31a354', '#756bb1', '#636363',
];
export const COLOURS = {
  uncovered: '#d7301f',
  care: '#7b2cbf',
  selected: '#ffb000',
  changed: '#111111',
  highlight: '#00b4d8',
  grid: '#e07b00',
  micro: '#3c8d7a',
};
// The posts each grid level takes (gridmap.assignment.ROLE_LEVEL).
export const ROLES_BY_LEVEL = {
  community: ['chief'],
  zone: ['zone_leader'],
  micro: ['grid_worker', 'building_leader'],
};
// The reports' columns in reading order (the API sends them as an object, keys sorted).
export const REPORT_COLUMNS = {
  unstaffed: ['code', 'name', 'level', 'missing_role'],
  uncovered: ['id', 'address', 'care_tags', 'micro_grid_code'],
  overloaded: ['id', 'name', 'kind', 'households', 'weighted_load'],
  coverage: ['code', 'name', 'households', 'covered', 'rate'],
};
export const REPORT_ROWS_SHOWN = 200;
export const CONFLICT = '他人已修改，请刷新';
// Households of one building stand within a few metres of its point (the demo: 10 m); the
// API masks building numbers, so a building is what lies this close in the same micro-grid.
export const BUILDING_RADIUS_M = 20;
const METRES_PER_DEGREE = 111320;

export function inRing(x, y, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether lon/lat lies in a GeoJSON Polygon or MultiPolygon (holes respected). */
export function inGeometry(x, y, geometry) {
  if (!geometry) return false;
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates]
    : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
  return polygons.some((rings) => inRing(x, y, rings[0])
    && !rings.slice(1).some((hole) => inRing(x, y, hole)));
}

export function metresBetween(a, b) {
  const dx = (a.lng - b.lng) * METRES_PER_DEGREE * Math.cos((a.lat * Math.PI) / 180);
  const dy = (a.lat - b.lat) * METRES_PER_DEGREE;
  return Math.hypot(dx, dy);
}


export function round(value, digits = 1) {
  const f = 10 ** digits;
  return String(Math.round(value * f) / f);
}
