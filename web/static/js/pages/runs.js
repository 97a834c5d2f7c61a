// Runs: benchmark runs grouped by sweep — the runs of one `stagescope
// bench` (their sweep id), or for runs recorded without one, runs over the
// same questions (their configs' questions, seed and corpus), the only ones
// whose latency and quality compare — each sweep with its latency against its retrieval
// quality, its own Pareto front (no other run of the sweep is both faster
// and better) and numbered points keyed to the runs. Names and settings
// come from stored runs and are only ever set as text.

import { el, section, table, message } from '../dom.js';
import { getJSON } from '../api.js';
import { ms, num, time, shortID } from '../format.js';
import { scatterChart } from '../charts.js';
import { hashFor } from '../scope.js';

const qualityKeys = { mrr: 'MRR', hit_rate: 'Hit rate' };
// The config fields that make runs comparable; the rest are the settings.
const sweepFields = ['questions', 'seed', 'corpus'];

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

// sweepOf names the sweep of a run: its questions, seed and corpus.
export function sweepOf(r) {
  const c = r.config && typeof r.config === 'object' ? r.config : {};
  const parts = [];
  if (c.questions !== undefined) parts.push(`${num(c.questions)} questions`);
  if (c.seed !== undefined) parts.push(`seed ${c.seed}`);
  if (c.corpus) parts.push(`corpus ${c.corpus}`);
  return parts.length ? parts.join(' · ') : 'runs without sweep settings';
}

// settings flattens a run's config (less the sweep fields) to key=value.
export function settings(config) {
  const out = [];
  const walk = (v, prefix) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (!prefix && sweepFields.includes(k)) continue;
        walk(x, prefix ? prefix + '.' + k : k);
      }
    } else out.push([prefix, Array.isArray(v) ? v.join(',') : String(v)]);
  };
  if (config && typeof config === 'object') walk(config, '');
  return out;
}

export async function render(view, ctx) {
  const res = await getJSON('/api/runs');
  if (!ctx.alive()) return null;
  const runs = res.runs || [];
  view.appendChild(el('h1', { text: 'Benchmark runs' }));
  if (!runs.length) {
    view.appendChild(message(res.note || 'No benchmark runs recorded yet. Run "stagescope bench" to sweep a pipeline over a grid of settings.'));
    return null;
  }
  const qKey = qualityKeys[ctx.params.get('quality')] ? ctx.params.get('quality') : 'mrr';
  const latKey = ['p50_ms', 'p95_ms', 'p99_ms'].includes(ctx.params.get('latency')) ? ctx.params.get('latency') : 'p95_ms';
  const pick = el('form', { class: 'filters' },
    el('label', null, 'Quality', el('select', { name: 'quality' }, Object.entries(qualityKeys).map(([k, v]) => el('option', { value: k, text: v, selected: k === qKey })))),
    el('label', null, 'Latency', el('select', { name: 'latency' }, ['p50_ms', 'p95_ms', 'p99_ms'].map(k => el('option', { value: k, text: k.replace('_ms', ''), selected: k === latKey })))));
  pick.addEventListener('change', () => ctx.go('runs', '', { quality: pick.elements.quality.value, latency: pick.elements.latency.value }));
  view.appendChild(pick);

  // Sweeps, newest first (runs come newest first).
  const groups = new Map();
  for (const r of runs) {
    const k = r.sweep ? 'id:' + r.sweep : 'inferred:' + sweepOf(r);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  const charts = [];
  for (const rs of groups.values()) {
    const name = sweepOf(rs[0]);
    const id = rs[0].sweep || '';
    const pts = rs.filter(r => r.summary && typeof r.summary[latKey] === 'number' && typeof r.summary[qKey] === 'number')
      .map((r, i) => ({ key: r.id, x: r.summary[latKey], y: r.summary[qKey], label: String(i + 1), name: r.name || r.id }));
    const front = paretoFront(pts);
    const onFront = new Set(front.map(p => p.key));
    const pointOf = new Map(pts.map(p => [p.key, p]));
    const parts = [el('p', { class: 'muted', text: `${rs.length} runs` + (pts.length ? `; ${front.length} of ${pts.length} on the Pareto front: no other run of this sweep is both faster and better.` : '.') })];
    if (pts.length) {
      const chart = scatterChart(`${qualityKeys[qKey]} against ${latKey.replace('_ms', '')} latency`, pts, front,
        { xLabel: latKey.replace('_ms', '') + ' latency', yLabel: qualityKeys[qKey] });
      charts.push(chart);
      parts.push(chart.node);
    }
    parts.push(table([
      { label: '#', class: 'num point-no', value: r => pointOf.get(r.id)?.label || '' },
      { label: 'Run', value: r => [el('a', { href: hashFor('bottlenecks', '', { run: r.id }), class: 'run-name', text: r.name || r.id }), ' ',
        el('span', { class: 'mono muted run-id', title: 'run id', text: shortID(r.id) })] },
      { label: 'Started', value: r => time(r.started) },
      { label: 'p50', class: 'num', value: r => ms(r.summary?.p50_ms) },
      { label: 'p95', class: 'num', value: r => ms(r.summary?.p95_ms) },
      { label: 'p99', class: 'num', value: r => ms(r.summary?.p99_ms) },
      { label: 'Hit rate', class: 'num', value: r => fmtQ(r.summary?.hit_rate) },
      { label: 'MRR', class: 'num', value: r => fmtQ(r.summary?.mrr) },
      { label: 'Traces', class: 'num', value: r => num(r.summary?.traces ?? r.traces) },
      { label: 'Pareto', value: r => onFront.has(r.id) ? el('span', { class: 'badge pareto', text: 'front' }) : '' },
      { label: 'Settings', class: 'config', value: r => settings(r.config).map(([k, v]) => el('span', { class: 'setting' }, el('span', { class: 'muted', text: k + '=' }), v)) },
    ], rs, { class: 'runs-table', rowData: r => ({ runId: r.id }) }));
    const started = rs[rs.length - 1].started; // runs come newest first
    const sec = section(id ? `Sweep ${shortID(id)}: ${name}, started ${time(started)}` : 'Sweep: ' + name, ...parts);
    sec.classList.add('sweep');
    sec.dataset.sweep = id || name;
    view.appendChild(sec);
  }
  return () => charts.forEach(c => c.destroy());
}

function fmtQ(v) { return typeof v === 'number' ? v.toFixed(3) : '–'; }
