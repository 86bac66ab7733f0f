/* review/charts.js: the review page's choropleth classes and its trend sparkline. */

// ColorBrewer YlOrRd, five classes.
export const RAMP = ['#ffffb2', '#fecc5c', '#fd8d3c', '#f03b20', '#bd0026'];

/** Class breaks at the quintiles of the values (distinct, ascending). */
export function breaks(values) {
  const sorted = values.filter((v) => v > 0).sort((a, b) => a - b);
  if (!sorted.length) return [];
  const cuts = [0.2, 0.4, 0.6, 0.8].map((q) => sorted[Math.floor(q * (sorted.length - 1))]);
  return Array.from(new Set(cuts));
}

export function colourOf(value, cuts) {
  if (!value) return null;
  let i = 0;
  while (i < cuts.length && value > cuts[i]) i += 1;
  return RAMP[Math.min(i, RAMP.length - 1)];
}

/** A small line chart of a {label: count} series as an SVG element. */
export function sparkline(series) {
  const labels = Object.keys(series);
  const values = labels.map((k) => series[k]);
  const width = 260;
  const height = 60;
  const top = Math.max(1, ...values);
  const step = labels.length > 1 ? width / (labels.length - 1) : width;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 4 - (v / top) * (height - 8)).toFixed(1)}`);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', 'gm-sparkline');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', labels.map((k, i) => `${k}: ${values[i]}`).join('，'));
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', points.join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#c8102e');
  line.setAttribute('stroke-width', '2');
  svg.append(line);
  return svg;
}

