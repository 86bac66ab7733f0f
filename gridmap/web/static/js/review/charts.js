/* review/charts.js: the review page's choropleth classes and its trend sparkline. */

// ColorBrewer YlOrRd, five classes.
export const RAMP = ['#ffffb2', '#fecc5c', '#fd8d3c', '#f03b20', '#bd0026'];

/** Most distinct values the natural breaks are computed over (O(classes × distinct²)). */
const MAX_DISTINCT = 300;

function roundTo(value, decimals) {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

/** Distinct values (ascending) with how often each occurs. */
function tally(values) {
  const counts = new Map();
  values.forEach((v) => counts.set(v, (counts.get(v) || 0) + 1));
  const distinct = [...counts.keys()].sort((a, b) => a - b);
  return { distinct, weights: distinct.map((v) => counts.get(v)) };
}

/**
 * Fisher–Jenks natural breaks over distinct values weighted by their frequency: the split
 * into k runs of consecutive values with the least weighted within-class squared deviation.
 * Returns the index of the first value of each class.
 */
function naturalStarts(distinct, weights, k) {
  const n = distinct.length;
  const sw = [0];
  const swx = [0];
  const swx2 = [0];
  for (let i = 0; i < n; i += 1) {
    sw.push(sw[i] + weights[i]);
    swx.push(swx[i] + weights[i] * distinct[i]);
    swx2.push(swx2[i] + weights[i] * distinct[i] * distinct[i]);
  }
  // Squared deviation of the values i..j (inclusive).
  const ssd = (i, j) => {
    const w = sw[j + 1] - sw[i];
    const x = swx[j + 1] - swx[i];
    return swx2[j + 1] - swx2[i] - (x * x) / w;
  };
  let cost = distinct.map((_, j) => ssd(0, j));
  const starts = [distinct.map(() => 0)];
  for (let c = 1; c < k; c += 1) {
    const next = distinct.map(() => Infinity);
    const from = distinct.map(() => c);
    for (let j = c; j < n; j += 1) {
      for (let i = c; i <= j; i += 1) {
        const total = cost[i - 1] + ssd(i, j);
        if (total < next[j]) {
          next[j] = total;
          from[j] = i;
        }
      }
    }
    cost = next;
    starts.push(from);
  }
  const firsts = [];
  let end = n - 1;
  for (let c = k - 1; c >= 0; c -= 1) {
    const i = c === 0 ? 0 : starts[c][end];
    firsts.unshift(i);
    end = i - 1;
  }
  return firsts;
}

/**
 * Classes of the positive values: natural breaks (Jenks) into at most five classes, over the
 * values rounded to ``decimals`` (counts: 0). Each class is ``{lo, hi}``, the smallest and
 * largest value it holds, so labels never overlap ("1–3", "4–9", not "0–11 / 11–16"); the top
 * class holds the outliers rather than the top fifth of the grids.
 */
export function classify(values, decimals = 0) {
  const rounded = values.map((v) => roundTo(v, decimals)).filter((v) => v > 0);
  // Too many distinct values for the exact method: the breaks are sought among coarser
  // steps, which keeps the values' order, so each class is still a run of the real values.
  let step = 10 ** -decimals;
  let keys = rounded;
  let { distinct, weights } = tally(keys);
  while (distinct.length > MAX_DISTINCT) {
    step *= 2;
    const coarse = step;
    keys = rounded.map((v) => Math.round(v / coarse));
    ({ distinct, weights } = tally(keys));
  }
  if (!distinct.length) return { decimals, classes: [] };
  const firsts = naturalStarts(distinct, weights, Math.min(RAMP.length, distinct.length));
  const held = firsts.map(() => ({ lo: Infinity, hi: -Infinity }));
  rounded.forEach((v, i) => {
    let c = firsts.length - 1;
    while (c > 0 && keys[i] < distinct[firsts[c]]) c -= 1;
    held[c].lo = Math.min(held[c].lo, v);
    held[c].hi = Math.max(held[c].hi, v);
  });
  return { decimals, classes: roundedClasses(held, decimals) };
}

/** The roundest number above ``below`` and at most ``upTo`` (on the ``decimals`` grid). */
function roundestBetween(below, upTo, decimals) {
  const unit = 10 ** -decimals;
  for (let e = Math.ceil(Math.log10(Math.max(upTo, unit))); 10 ** e >= unit; e -= 1) {
    for (const m of [5, 2, 1]) {
      const step = m * 10 ** e;
      if (step >= unit) {
        const first = Math.floor(below / step) * step + step;
        const last = Math.floor(upTo / step) * step;
        // Of the multiples between the two classes, the one nearest the middle of the gap.
        const middle = Math.round((below + upTo) / 2 / step) * step;
        if (first <= last) return roundTo(Math.min(last, Math.max(first, middle)), decimals);
      }
    }
  }
  return upTo;
}

/**
 * Classes whose inner bounds are round numbers: between two classes the roundest value that
 * separates them ("10000", not "10748"), each class ending one unit below the next one's
 * start, so the labels read "8061–9999 / 10000–12499" and never overlap. The first class
 * starts at the smallest value, the last ends at the largest.
 */
function roundedClasses(held, decimals) {
  const unit = 10 ** -decimals;
  const starts = held.map((c, i) => (i === 0 ? c.lo : roundestBetween(held[i - 1].hi, c.lo, decimals)));
  return held.map((c, i) => ({
    lo: starts[i],
    hi: i + 1 < held.length ? roundTo(starts[i + 1] - unit, decimals) : c.hi,
  }));
}

/** The ramp colour of a value (null for none or zero: the grid is left unfilled). */
export function colourOf(value, scheme) {
  if (!value || !scheme || !scheme.classes.length) return null;
  const v = roundTo(value, scheme.decimals);
  let i = 0;
  while (i < scheme.classes.length - 1 && v > scheme.classes[i].hi) i += 1;
  return RAMP[Math.min(i, RAMP.length - 1)];
}

/** A class's label: "5", "1–3" (its smallest and largest values). */
export function classLabel({ lo, hi }, decimals = 0) {
  const f = (v) => v.toFixed(decimals);
  return lo === hi ? f(lo) : `${f(lo)}–${f(hi)}`;
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

