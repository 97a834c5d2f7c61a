// Overview: end-to-end percentiles over time, stacked per-stage self time,
// each stage's p95 over time, cost and tokens over time, throughput, errors
// and drops, and the stage breakdown of the window. An empty store shows how to attach a pipeline;
// an empty window says where the data is.

import { el, section, table, message } from '../dom.js';
import { getJSON } from '../api.js';
import { ms, num, pct, time, usd } from '../format.js';
import { timeChart, stackedChart, stageColor } from '../charts.js';
import { withService } from '../scope.js';
import { onboarding } from '../onboarding.js';

// Windows the "show where the data is" offer picks from, smallest first.
const offers = [['1h', 1], ['6h', 6], ['24h', 24], ['168h', 168], ['720h', 720]];

export async function render(view, ctx) {
  const w = withService(ctx.window());
  const [ts, st] = await Promise.all([
    getJSON('/api/timeseries', w),
    getJSON('/api/stages', w),
  ]);
  if (!ctx.alive()) return null;
  const charts = [];
  const allPts = ts.points || [];
  const totals = allPts.reduce((a, p) => ({
    traces: a.traces + (p.traces || 0), errors: a.errors + (p.errors || 0), dropped: a.dropped + (p.dropped_spans || 0),
    cost: a.cost + (p.cost_usd || 0), tokens: a.tokens + (p.tokens_in || 0) + (p.tokens_out || 0),
  }), { traces: 0, errors: 0, dropped: 0, cost: 0, tokens: 0 });
  const e2e = st.e2e || {};

  view.appendChild(el('h1', { text: 'Overview' + (ctx.service ? ' · ' + ctx.service : '') }));
  if (!totals.traces) {
    // Nothing in this window: an empty store gets the onboarding panel,
    // otherwise the newest trace says where the data is.
    const newest = await getJSON('/api/traces', withService({ limit: 1 }));
    if (!ctx.alive()) return null;
    const t = (newest.traces || [])[0];
    if (!t && !ctx.service) {
      view.appendChild(onboarding(location.origin));
      return null;
    }
    if (!t) {
      view.appendChild(message(`Service ${ctx.service} has no traces.`));
      return null;
    }
    const age = (Date.now() - t.start_ms) / 3600e3;
    const fit = offers.find(([, h]) => h > age);
    view.appendChild(el('div', { class: 'msg', id: 'window-empty' },
      `No traces in this window. The newest trace started at ${time(t.start_ms)}. `,
      fit ? el('button', { type: 'button', class: 'secondary', id: 'show-data', text: 'Show the last ' + fit[0].replace('168h', '7 days').replace('720h', '30 days'),
        on: { click: () => ctx.go('overview', '', { range: fit[0] }) } }) : null, ' ',
      el('button', { type: 'button', class: 'secondary', id: 'show-all', text: 'Show everything', on: { click: () => ctx.go('overview', '', { range: 'all' }) } })));
    return null;
  }
  // A window mostly empty before its first trace is drawn from there on.
  const first = allPts.findIndex(p => p.traces > 0);
  const trimmed = first > allPts.length / 4;
  const pts = trimmed ? allPts.slice(Math.max(0, first - 1)) : allPts;
  const xs = pts.map(p => p.t / 1000);
  const cov = st.coverage;
  if (cov && cov.source !== 'traces') {
    // A source without rollups (Jaeger): every figure here is from traces.
    view.appendChild(el('p', { class: 'muted', id: 'coverage', dataset: { source: cov.source, partial: String(!!cov.partial) },
      text: `Computed from ${num(cov.traces)} traces: ${cov.method || 'read from ' + cov.source}.` }));
  } else if (cov && cov.partial) {
    view.appendChild(message(`Service ${ctx.service}: computed from its newest ${num(cov.traces)} traces, back to ${time(cov.scanned_to)}; narrow the window to cover all of it.`));
  }
  view.appendChild(el('div', { class: 'cards' },
    card('Traces', num(totals.traces), 'traces'),
    card('Error rate', totals.traces ? pct(totals.errors / totals.traces) : '–', 'error-rate'),
    card('p50', ms(e2e.p50_ms), 'p50'),
    card('p95', ms(e2e.p95_ms), 'p95'),
    card('p99', ms(e2e.p99_ms), 'p99'),
    card('Dropped spans', num(totals.dropped), 'dropped'),
    totals.tokens ? card('Cost', usd(totals.cost), 'cost') : null,
  ));
  if (trimmed) {
    view.appendChild(el('p', { class: 'muted', id: 'data-span', text: `The charts start at ${time(pts[0].t)}: the window holds no trace before.` }));
  }
  const grid = el('div', { class: 'chart-grid', dataset: { points: String(pts.length) } });
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
  // Each stage's p95 per step (self time: what the stage itself spent).
  add(timeChart('Self-time p95 by stage', xs, stageNames.map(s => ({
    label: s, color: stageColor(s),
    values: pts.map(p => p.stages && p.stages[s] ? p.stages[s].self_p95_ms : null),
  })), { yMs: true, class: 'stage-p95' }));
  // Cost over time: tokens are stored, priced when read with the server's
  // price table, so the curve follows a changed price.
  if (totals.tokens) {
    const order = ts.stages || [];
    const rank = s => order.includes(s) ? order.indexOf(s) : order.length;
    const costStages = [...new Set(pts.flatMap(p => Object.keys(p.stage_cost_usd || {})))].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
    const stepLabel = ms(ts.step_ms || 60000).replace('1.0 min', 'minute');
    add(timeChart(`Cost per ${stepLabel} (USD)`, xs, [
      { label: 'total', values: pts.map(p => p.cost_usd || 0), color: '#64748b' },
      ...costStages.map(s => ({ label: s, color: stageColor(s), values: pts.map(p => (p.stage_cost_usd && p.stage_cost_usd[s]) || 0) })),
    ], { yFmt: v => v == null ? '–' : usd(v), class: 'cost-chart' }));
    add(timeChart(`Tokens per ${stepLabel}`, xs, [
      { label: 'input', values: pts.map(p => p.tokens_in || 0), color: '#60a5fa' },
      { label: 'output', values: pts.map(p => p.tokens_out || 0), color: '#f472b6' },
    ], { yFmt: v => v == null ? '–' : num(Math.round(v)), class: 'tokens-chart' }));
    if ((ts.unpriced || []).length) {
      view.appendChild(message(`No price for ${ts.unpriced.join(', ')}: their tokens count, their cost is $0. Set prices with --prices FILE.`));
    }
  }
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
