// Bottlenecks: the ranked findings of the bottleneck report with their
// recommendations, predicted gains and exemplar traces, then the tables
// behind them: gains per stage, errors, tail attribution, critical path,
// stages, what-if, pools, retries, cost, and the spans read with care.

import { el, section, table, message } from '../dom.js';
import { getJSON } from '../api.js';
import { ms, num, pct, usd, shortID, time } from '../format.js';
import { hashFor, withService } from '../scope.js';

export async function render(view, ctx) {
  // A run is its own selection; otherwise the header's window applies.
  const run = ctx.params.get('run') || '';
  const params = withService(run ? { run } : ctx.window());
  const res = await getJSON('/api/report', params);
  if (!ctx.alive()) return null;
  const r = res.report || {};
  view.appendChild(el('h1', { text: 'Bottlenecks' }));
  view.appendChild(el('p', { class: 'muted', id: 'report-scope' },
    `${num(res.traces_analysed)} traces analysed` +
    (res.traces_matched != null ? ` of ${num(res.traces_matched)} in the window` : '') +
    (params.run ? ` · run ${params.run}` : '') + (params.service ? ` · service ${params.service}` : '') + ` · ${num(r.spans)} spans` +
    (res.from && !params.run ? ` · ${time(res.from)} to ${time(res.to)} (whole minutes; the minute under way is left out)` : '')));
  // The sampling method, in the words of the code that drew it
  // (collector.SampleTraces), so the page never claims more than was done.
  view.appendChild(el('p', { class: 'muted', id: 'report-sample', dataset: { sampled: String(!!res.sampled) } },
    `Sample: ${res.method || 'every trace of the selection'}.` +
    (res.partial ? ' Not every trace of the window was examined: narrow the window to examine them all.' : '')));
  if (!r.traces) {
    view.appendChild(message('No traces in this window.'));
    return null;
  }
  view.appendChild(weighting(r));
  // The window's latency comes from the same rollups as the Overview's
  // (nearest rank, ±2.2%); the analysed traces' figures, weighted back to
  // the window (each trace below the slow threshold stands for 1/hash rate
  // traces), are shown apart.
  const win = res.window && res.window.traces ? res.window : null;
  const e2e = r.e2e || {};
  const lat = win || e2e;
  view.appendChild(el('div', { class: 'cards', id: 'report-latency', dataset: { source: win ? win.source : 'analysed traces' } },
    stat('p50', ms(lat.p50_ms)), stat('p95', ms(lat.p95_ms)), stat('p99', ms(lat.p99_ms)),
    stat('Cost', usd(r.cost_total_usd))));
  view.appendChild(el('p', { class: 'muted', id: 'report-latency-source' },
    win ? `End-to-end latency of all ${num(win.traces)} traces of the window, from the ${win.source}` +
      (res.sampled ? `; the ${num(r.traces)} analysed traces, weighted back to the window: p50 ${ms(e2e.p50_ms)}, p95 ${ms(e2e.p95_ms)}.` : '.')
      : `End-to-end latency of the ${num(r.traces)} analysed traces.`));

  const findings = r.findings || [];
  const factor = ((r.gains || [])[0] || {}).factor || 2; // the speed-up the gains assume
  view.appendChild(section('Findings',
    findings.length ? el('ol', { class: 'findings', id: 'findings' }, findings.map(f => finding(f, factor))) : message('Nothing stands out.')));
  if ((r.gains || []).length) view.appendChild(gains(r.gains));
  const errs = r.errors || {};
  if (errs.failed_traces || (errs.stages || []).length) view.appendChild(errorsSection(errs, r.traces, !!(r.weighting || {}).weighted));

  const tail = r.tail || {};
  if (tail.slow_traces) {
    view.appendChild(section('Tail attribution',
      el('p', null, `Slow cohort (≥ p${Math.round((tail.quantile || 0.95) * 100)}, ${ms(tail.threshold_ms)}): ${num(tail.slow_traces)} traces averaging ${ms(tail.slow_mean_ms)} against ${ms(tail.rest_mean_ms)} for the rest; the gap is ${ms(tail.gap_ms)}.`),
      table([
        { label: 'Stage', value: s => stage(s.stage) },
        { label: 'Slow mean', class: 'num', value: s => ms(s.slow_mean_ms) },
        { label: 'Rest mean', class: 'num', value: s => ms(s.rest_mean_ms) },
        { label: 'Delta', class: 'num', value: s => ms(s.delta_ms) },
        { label: 'Share of gap', class: 'num', value: s => pct(s.share_of_gap) },
      ], tail.stages || []),
      exemplars(tail.exemplars)));
  }
  view.appendChild(section('Critical path by stage', table([
    { label: 'Stage', value: s => stage(s.stage) },
    { label: 'Per trace', class: 'num', value: s => ms(s.mean_per_trace_ms) },
    { label: 'Per slow trace', class: 'num', value: s => ms(s.mean_per_slow_trace_ms) },
    { label: 'Share', class: 'num', value: s => pct(s.share) },
    { label: 'Slow share', class: 'num', value: s => pct(s.slow_share) },
    { label: 'On path (slow)', class: 'num', value: s => pct(s.slow_on_path) },
  ], r.critical_path || [], { class: 'cp-table' })));
  // Per request first (the stage's self time summed in a trace), per span
  // second; spans planted faults ran in are counted apart.
  view.appendChild(section('Stages', table([
    { label: 'Stage', value: s => stage(s.stage) },
    { label: 'Per request p50', class: 'num', value: s => ms((s.per_trace || {}).p50_ms) },
    { label: 'Per request p95', class: 'num', value: s => ms((s.per_trace || {}).p95_ms) },
    { label: 'Share of e2e', class: 'num', value: s => pct(s.share_of_e2e) },
    { label: 'Spans', class: 'num', value: s => num(s.count) + (s.injected ? ` (+${num(s.injected)} injected)` : '') },
    { label: 'Errors', class: 'num', value: s => num(s.errors) },
    { label: 'Per span p50', class: 'num', value: s => ms(s.total.p50_ms) },
    { label: 'Per span self p95', class: 'num', value: s => ms(s.self.p95_ms) },
  ], r.stages || [])));
  if ((r.what_if || []).length) {
    view.appendChild(section('What if', table([
      { label: 'Stage', value: s => stage(s.stage) },
      { label: 'Speed-up', class: 'num', value: s => s.factor + '×' },
      { label: 'p95 now', class: 'num', value: s => ms(s.p95_now_ms) },
      { label: 'p95 then', class: 'num', value: s => ms(s.p95_ms) },
      { label: 'Gain', class: 'num', value: s => pct(s.gain) },
    ], r.what_if)));
  }
  if ((r.pools || []).length) {
    view.appendChild(section('Worker pools', table([
      { label: 'Pool', value: p => p.name },
      { label: 'Workers', class: 'num', value: p => num(p.workers) },
      { label: 'Jobs', class: 'num', value: p => num(p.jobs) },
      { label: 'Queue p95', class: 'num', value: p => ms(p.queue_wait.p95_ms) },
      { label: 'Run p95', class: 'num', value: p => ms(p.run_time.p95_ms) },
      { label: 'Utilisation', class: 'num', value: p => pct(p.utilisation) },
      { label: 'Recommendation', value: p => p.recommendation },
    ], r.pools)));
  }
  if ((r.retries || []).length) {
    view.appendChild(section('Retries', table([
      { label: 'Operation', value: x => x.op },
      { label: 'Calls', class: 'num', value: x => num(x.calls) },
      { label: 'Attempts/call', class: 'num', value: x => (x.attempts_per_call || 0).toFixed(2) },
      { label: 'Gave up', class: 'num', value: x => num(x.gave_up) },
      { label: 'Lost/call', class: 'num', value: x => ms(x.lost_per_call_ms) },
      { label: 'Tokens lost', class: 'num', value: x => num(x.tokens_lost) },
    ], r.retries)));
  }
  if ((r.cost || []).length) {
    view.appendChild(section('Tokens and cost', table([
      { label: 'Stage', value: c => stage(c.stage) },
      { label: 'Model', value: c => c.model },
      { label: 'Calls', class: 'num', value: c => num(c.calls) },
      { label: 'Prompt', class: 'num', value: c => num(c.prompt_tokens) },
      { label: 'Completion', class: 'num', value: c => num(c.completion_tokens) },
      { label: 'Embedding', class: 'num', value: c => num(c.embedding_tokens) },
      { label: 'USD', class: 'num', value: c => c.priced ? usd(c.usd) : 'unpriced' },
      { label: 'USD/trace', class: 'num', value: c => c.priced ? usd(c.usd_per_trace) : '–' },
    ], r.cost)));
  }
  const an = r.anomalies || {};
  if (an.traces) view.appendChild(anomalies(an));
  return null;
}

// weighting says how the analysed traces were weighted back to the window
// (analysis.Weighting), in the numbers the report used.
function weighting(r) {
  const w = r.weighting || {};
  const text = w.weighted
    ? `Weighting: the ${num(w.slow_traces)} analysed traces at or above ${ms(w.slow_threshold_ms)} count once each; ` +
      `the others were drawn at a rate of ${pct(w.hash_rate, 2)} and each stands for ${num(+(1 / w.hash_rate).toFixed(2))} traces, ` +
      `so the ${num(r.traces)} analysed traces stand for ${num(Math.round(w.represented))} traces of the window. ` +
      'Percentiles, means, shares, the slow cohort and predicted gains are weighted; span and trace counts are not.'
    : `Weighting: none; each of the ${num(r.traces)} analysed traces counts once.`;
  return el('p', { class: 'muted', id: 'report-weighting', dataset: { weighted: String(!!w.weighted) } }, text);
}

// gains shows, per stage, what making it faster or taking it out would
// gain (analysis.StageGain) and which stage sets the floor or drives the
// tail.
function gains(gs) {
  const k = gs[0].factor || 2;
  const role = g => g.role ? el('span', { class: 'badge role', dataset: { role: g.role }, text: g.role }) : '–';
  return section('Predicted gains',
    el('p', { class: 'muted' }, `Every analysed request's critical path replayed with the stage ${k}× faster, or without it. ` +
      'An upper bound: another branch may become critical once the stage shrinks. "Slowest 5%" is the mean latency of the requests at or above the p95.'),
    table([
      { label: 'Stage', value: g => stage(g.stage) },
      { label: 'Role', value: role },
      { label: `${k}× faster: p50`, class: 'num', value: g => ms(g.faster.p50_gain_ms) },
      { label: 'p95', class: 'num', value: g => ms(g.faster.p95_gain_ms) },
      { label: 'mean', class: 'num', value: g => ms(g.faster.mean_gain_ms) },
      { label: 'slowest 5%', class: 'num', value: g => ms(g.faster.tail_mean_gain_ms) },
      { label: 'Removed: p50', class: 'num', value: g => ms(g.removed.p50_gain_ms) },
      { label: 'p95', class: 'num', value: g => ms(g.removed.p95_gain_ms) },
      { label: 'slowest 5%', class: 'num', value: g => ms(g.removed.tail_mean_gain_ms) },
    ], gs, { class: 'gains-table', rowData: g => ({ stage: g.stage }) }),
    el('ul', { class: 'gain-summaries' }, gs.filter(g => g.role).map(g =>
      el('li', { class: 'gain-summary', dataset: { stage: g.stage } }, stage(g.stage), ' ', g.summary))));
}

// errorsSection shows what failures did to the requests
// (analysis.ErrorStats).
function errorsSection(e, traces, weighted) {
  const ok = e.succeeded || {}, bad = e.failed || {};
  // The rate is weighted back to the window; the counts are of the
  // analysed traces.
  let text = weighted
    ? `${num(e.failed_traces)} of the ${num(traces)} analysed requests failed (weighted back to the window: ${pct(e.failure_rate)} of requests); `
    : `${num(e.failed_traces)} of ${num(traces)} requests failed (${pct(e.failure_rate)}); `;
  text += `${num(e.traces_with_errors)} had a failed span; ${num(e.gave_up)} failed through a retry that gave up.`;
  if (ok.count && bad.count) {
    text += ` Successful requests took ${ms(ok.p50_ms)} at p50 and ${ms(ok.p95_ms)} at p95, failed ones ${ms(bad.p50_ms)} at p50; ` +
      `the failures shift the p95 by ${ms(e.p95_shift_ms)}.`;
  }
  return el('section', { class: 'card', id: 'errors' }, el('h2', { text: 'Errors' }),
    el('p', { id: 'errors-summary' }, text),
    table([
      { label: 'Stage', value: s => stage(s.stage) },
      { label: 'Failed spans', class: 'num', value: s => `${num(s.errors)} of ${num(s.spans)}` },
      { label: 'Span error rate', class: 'num', value: s => pct(s.error_rate) },
      { label: 'Injected', class: 'num', value: s => num(s.injected) },
      { label: 'Requests with errors', class: 'num', value: s => `${num(s.traces_with_errors)} of ${num(s.traces)}` },
      { label: 'Failed requests', class: 'num', value: s => num(s.failed_requests) },
      { label: 'Survived', class: 'num', value: s => num(s.absorbed) },
    ], e.stages || [], { class: 'errors-table', rowData: s => ({ stage: s.stage }) }),
    exemplars(e.exemplars));
}

// anomalies counts the spans whose place in their trace had to be
// interpreted (analysis.TraceAnomalies).
function anomalies(an) {
  const rows = [
    { kind: 'orphans', label: 'Orphans', n: an.orphans, what: 'their parent never arrived; adopted by the root' },
    { kind: 'clock_skew', label: 'Clock skew', n: an.clock_skew, what: 'outside their parent by more than the clocks allow; clipped to it' },
    { kind: 'fire_and_forget', label: 'Fire-and-forget', n: an.fire_and_forget, what: 'outlived their parent, which did not wait; clipped, off its critical path' },
    { kind: 'unreachable', label: 'In parent cycles', n: an.unreachable, what: 'not under the root; left out' },
    { kind: 'missing_root', label: 'Root span missing (traces)', n: an.missing_root || 0, what: 'requests whose outermost span never arrived: outcome unknown, latency from the spans that did' },
  ];
  return el('section', { class: 'card', id: 'anomalies' }, el('h2', { text: 'Spans read with care' }),
    el('p', null, `${num(an.traces)} analysed traces have spans whose place in the trace had to be interpreted:`),
    table([
      { label: 'Kind', value: x => x.label },
      { label: 'Spans', class: 'num', value: x => num(x.n) },
      { label: 'How they were read', value: x => x.what },
    ], rows, { class: 'anomalies-table', rowData: x => ({ kind: x.kind }) }),
    exemplars(an.exemplars));
}

function finding(f, factor) {
  return el('li', { class: 'finding ' + f.severity, dataset: { stage: f.stage, kind: f.kind } },
    el('div', { class: 'finding-head' },
      el('span', { class: 'severity ' + f.severity, text: f.severity }),
      el('span', { class: 'stage', dataset: { stage: f.stage }, text: f.stage }),
      el('strong', { class: 'finding-title', text: f.title })),
    el('p', { class: 'finding-detail', text: f.detail }),
    el('p', { class: 'finding-rec' }, el('span', { class: 'rec-label', text: 'What to do: ' }), f.recommendation),
    f.score_ms ? el('p', { class: 'muted', text: `costs each slow trace about ${ms(f.score_ms)} (${pct(f.share)} of its latency)` }) : null,
    f.tail_gain_ms || f.p95_gain_ms ? el('p', { class: 'finding-gain' },
      f.role ? el('span', { class: 'badge role', dataset: { role: f.role }, text: f.role }) : null, f.role ? ' ' : null,
      `${factor}× faster: the slowest 5% of requests ${ms(f.tail_gain_ms)} faster on average, the p95 ${ms(f.p95_gain_ms)} faster`) : null,
    exemplars(f.exemplars));
}

function exemplars(ids) {
  if (!ids || !ids.length) return null;
  return el('p', { class: 'exemplars' }, 'Exemplar traces: ',
    ids.map(id => el('a', { href: hashFor('trace', id), class: 'mono exemplar', text: shortID(id) })));
}

function stage(s) { return el('span', { class: 'stage', dataset: { stage: s }, text: s }); }

function stat(label, value) {
  return el('div', { class: 'stat', dataset: { stat: label.toLowerCase() } }, el('div', { class: 'stat-label', text: label }), el('div', { class: 'stat-value', text: value }));
}
