// SPDX-License-Identifier: Apache-2.0
// A small live line chart in SVG: one or two series over the last samples.

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// series: [{name, values: [number...], cls}], drawn over `capacity` slots.
export function lineChart(series, { width = 320, height = 90, capacity = 120 } = {}) {
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', class: 'chart', role: 'img' });
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const top = 12;
  const y = (v) => height - 2 - (v / max) * (height - top - 4);
  const x = (i, n) => width - (n - 1 - i) * (width / (capacity - 1));
  root.append(svg('line', { x1: 0, x2: width, y1: height - 2, y2: height - 2, class: 'axis' }));
  for (const s of series) {
    if (s.values.length < 2) continue;
    const n = s.values.length;
    const points = s.values.map((v, i) => `${x(i, n).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    root.append(svg('polyline', { points, class: `line ${s.cls || ''}`, 'vector-effect': 'non-scaling-stroke' }));
  }
  root.append(svg('text', { x: 2, y: 10, class: 'scale' }, `max ${Math.round(max * 10) / 10}`));
  return root;
}
