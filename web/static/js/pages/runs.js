// Runs: benchmark runs, their latency against their retrieval quality, and
// the Pareto front (no other run is both faster and better).

import { el, section, table, message } from '../dom.js';
import { getJSON } from '../api.js';
import { ms, num, time } from '../format.js';
import { scatterChart } from '../charts.js';
import { hashFor } from '../scope.js';

const qualityKeys = { mrr: 'MRR', hit_rate: 'Hit rate' };

// paretoFront returns the points with the lowest x for their y: sorted by x,
// each point better in y than every faster one.
export function paretoFront(points) {
  const sorted = [...points].sort((a, b) => a.x - b.x || b.y - a.y);
  const front = [];
  let best = -Infinity;
  for (const p of sorted) {
    if (p.y > best) { front.push(p); best = p.y; }
  }
  return front;
}

export async function render(view, ctx) {
  const res = await getJSON('/api/runs');
  if (!ctx.alive()) return null;
  const runs = res.runs || [];
  view.appendChild(el('h1', { text: 'Benchmark runs' }));
  if (!runs.length) {
    view.appendChild(message('No benchmark runs recorded yet.'));
    return null;
  }
  const qKey = qualityKeys[ctx.params.get('quality')] ? ctx.params.get('quality') : 'mrr';
  const latKey = ['p50_ms', 'p95_ms', 'p99_ms'].includes(ctx.params.get('latency')) ? ctx.params.get('latency') : 'p95_ms';
  const pick = el('form', { class: 'filters' },
    el('label', null, 'Quality', el('select', { name: 'quality' }, Object.entries(qualityKeys).map(([k, v]) => el('option', { value: k, text: v, selected: k === qKey })))),
    el('label', null, 'Latency', el('select', { name: 'latency' }, ['p50_ms', 'p95_ms', 'p99_ms'].map(k => el('option', { value: k, text: k.replace('_ms', ''), selected: k === latKey })))));
  pick.addEventListener('change', () => ctx.go('runs', '', { quality: pick.elements.quality.value, latency: pick.elements.latency.value }));
  view.appendChild(pick);

  const pts = runs.filter(r => r.summary && typeof r.summary[latKey] === 'number' && typeof r.summary[qKey] === 'number')
    .map(r => ({ key: r.id, x: r.summary[latKey], y: r.summary[qKey], label: r.name }));
  const front = paretoFront(pts);
  const onFront = new Set(front.map(p => p.key));
  let chart = null;
  if (pts.length) {
    chart = scatterChart(`${qualityKeys[qKey]} against ${latKey.replace('_ms', '')} latency`, pts, front,
      { xLabel: latKey.replace('_ms', '') + ' latency', yLabel: qualityKeys[qKey] });
    view.appendChild(section('Latency against quality', chart.node,
      el('p', { class: 'muted', text: `${front.length} of ${pts.length} runs are on the Pareto front: no other run is both faster and better.` })));
  } else {
    view.appendChild(message('No run has a summary with latency and quality yet.'));
  }
  view.appendChild(section('Runs', table([
    { label: 'Run', value: r => el('a', { href: hashFor('bottlenecks', '', { run: r.id }), text: r.name || r.id }) },
    { label: 'Started', value: r => time(r.started) },
    { label: 'p50', class: 'num', value: r => ms(r.summary?.p50_ms) },
    { label: 'p95', class: 'num', value: r => ms(r.summary?.p95_ms) },
    { label: 'p99', class: 'num', value: r => ms(r.summary?.p99_ms) },
    { label: 'Hit rate', class: 'num', value: r => fmtQ(r.summary?.hit_rate) },
    { label: 'MRR', class: 'num', value: r => fmtQ(r.summary?.mrr) },
    { label: 'Traces', class: 'num', value: r => num(r.summary?.traces ?? r.traces) },
    { label: 'Pareto', value: r => onFront.has(r.id) ? el('span', { class: 'badge pareto', text: 'front' }) : '' },
    { label: 'Config', class: 'config', value: r => r.config ? JSON.stringify(r.config) : '' },
  ], runs, { class: 'runs-table', rowData: r => ({ runId: r.id }) })));
  return chart ? () => chart.destroy() : null;
}

function fmtQ(v) { return typeof v === 'number' ? v.toFixed(3) : '–'; }
