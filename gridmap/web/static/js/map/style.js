/* map/style.js: the grid map's levels, colours and line styles (pages/map.js and its parts). */
import { BUILDING_LABELS, HOUSEHOLD_LABEL, LEVEL_LABELS } from '../core/labels.js';

export const GRID_LEVELS = ['community', 'zone', 'micro'];
// Finest level first: that is the order a household's coverage is read in.
export const COVERAGE_LEVELS = ['micro', 'zone', 'community'];
export const LAYER_KEYS = GRID_LEVELS.concat(['building', 'household']);
export const LAYER_LABELS = {
  community: LEVEL_LABELS.community,
  zone: LEVEL_LABELS.zone,
  micro: LEVEL_LABELS.micro,
  building: BUILDING_LABELS.layer,
  household: HOUSEHOLD_LABEL,
};

export const COLOURS = {
  community: '#1f4e9c',
  zone: '#e07b00',
  micro: '#3c8d7a',
  covered: '#2e9d4f',
  uncovered: '#d7301f',
  care: '#7b2cbf',
  focus: '#c8102e',
  building: '#5b4a3a',
  buildingFill: '#d9cbb5',
};
export const BUILDING_STYLE = {
  color: COLOURS.building, weight: 1, opacity: 0.9, fill: true, fillColor: COLOURS.buildingFill,
  fillOpacity: 0.6,
};
export const GRID_STYLES = {
  community: { color: COLOURS.community, weight: 3, opacity: 0.9, fill: false },
  zone: { color: COLOURS.zone, weight: 2, opacity: 0.9, dashArray: '6 4', fill: false },
  micro: { color: COLOURS.micro, weight: 1, opacity: 0.8, fill: true, fillOpacity: 0.04 },
};
