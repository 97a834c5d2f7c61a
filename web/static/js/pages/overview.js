// Overview: end-to-end percentiles over time, stacked per-stage self time,
// throughput, errors and drops, and the stage breakdown of the window.

import { el, section, table, message } from '../dom.js';
import { getJSON } from '../api.js';
import { ms, num, pct, time } from '../format.js';
import { timeChart, stackedChart, stageColor } from '../charts.js';
import { withService } from '../scope.js';

export async function render(view, ctx) {
  const w = withService(ctx.window());
  const [ts, st] = await Promise.all([
    getJSON('/api/timeseries', w),
    getJSON('/api/stages', w),
  ]);
  if (!ctx.alive()) return null;
  const charts = [];
  const pts = ts.points || [];
  const xs = pts.map(p => p.t / 1000);
  const totals = pts.reduce((a, p) => ({
    traces: a.traces + (p.traces || 0), errors: a.errors + (p.errors || 0), dropped: a.dropped + (p.dropped_spans || 0),
  }), { traces: 0, errors: 0, dropped: 0 });
  const e2e = st.e2e || {};

  view.appendChild(el('h1', { text: 'Overview' + (ctx.service ? ' · ' + ctx.service : '') }));
  const cov = st.coverage;
  if (cov && cov.partial) {
    view.appendChild(message(`Service ${ctx.service}: computed from its newest ${num(cov.traces)} traces, back to ${time(cov.scanned_to)}; narrow the window to cover all of it.`));
  }
  view.appendChild(el('div', { class: 'cards' },
    card('Traces', num(totals.traces), 'traces'),
    card('Error rate', totals.traces ? pct(totals.errors / totals.traces) : '–', 'error-rate'),
    card('p50', ms(e2e.p50_ms), 'p50'),
    card('p95', ms(e2e.p95_ms), 'p95'),
    card('p99', ms(e2e.p99_ms), 'p99'),
    card('Dropped spans', num(totals.dropped), 'dropped'),
  ));
  if (!pts.length) {
    view.appendChild(message('No traces in this window yet. Attach a pipeline (OTLP to /v1/traces) or widen the window.'));
    return null;
  }
  const grid = el('div', { class: 'chart-grid' });
  view.appendChild(grid);
  const add = (c) => { charts.push(c); grid.appendChild(c.node); };
  add(timeChart('End-to-end latency', xs, [
    { label: 'p50', values: pts.map(p => p.p50_ms ?? null), color: '#34d399' },
    { label: 'p95', values: pts.map(p => p.p95_ms ?? null), color: '#f59e0b' },
    { label: 'p99', values: pts.map(p => p.p99_ms ?? null), color: '#f87171' },
  ], { yMs: true }));
  const stageNames = (ts.stages || []).filter(s => s !== 'query');
  add(stackedChart('Self time per trace by stage', xs, stageNames.map(s => ({
    label: s, color: stageColor(s),
    values: pts.map(p => p.traces ? ((p.stages && p.stages[s] ? p.stages[s].self_ms : 0) / p.traces) : 0),
  }))));
  const perMin = (ts.step_ms || 60000) / 60000;
  add(timeChart('Throughput, errors and drops (per minute)', xs, [
    { label: 'traces/min', values: pts.map(p => (p.traces || 0) / perMin), color: '#60a5fa' },
    { label: 'errors/min', values: pts.map(p => (p.errors || 0) / perMin), color: '#f87171' },
    { label: 'dropped spans/min', values: pts.map(p => (p.dropped_spans || 0) / perMin), color: '#a78bfa' },
  ], { yFmt: v => v == null ? '–' : v.toFixed(1) }));

  const stages = st.stages || [];
  view.appendChild(section('Stages',
    table([
      { label: 'Stage', value: s => el('span', { class: 'stage', dataset: { stage: s.stage }, text: s.stage }) },
      { label: 'Spans', class: 'num', value: s => num(s.count) },
      { label: 'Errors', class: 'num', value: s => num(s.errors) },
      { label: 'p50', class: 'num', value: s => ms(s.p50_ms) },
      { label: 'p95', class: 'num', value: s => ms(s.p95_ms) },
      { label: 'p99', class: 'num', value: s => ms(s.p99_ms) },
      { label: 'Self p95', class: 'num', value: s => ms(s.self_p95_ms) },
      { label: 'Self total', class: 'num', value: s => ms(s.self_ms) },
      { label: 'Share of e2e', class: 'num', value: s => pct(s.share) },
    ], stages, { class: 'stages-table', rowData: s => ({ stage: s.stage }) }),
  ));
  return () => charts.forEach(c => c.destroy());
}

function card(label, value, key) {
  return el('div', { class: 'stat', dataset: { stat: key } }, el('div', { class: 'stat-label', text: label }), el('div', { class: 'stat-value', text: value }));
}
