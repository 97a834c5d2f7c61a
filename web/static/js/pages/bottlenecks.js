// Bottlenecks: the ranked findings of the bottleneck report with their
// recommendations and exemplar traces, then the tables behind them.

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
  view.appendChild(section('Findings',
    findings.length ? el('ol', { class: 'findings', id: 'findings' }, findings.map(finding)) : message('Nothing stands out.')));

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
  return null;
}

function finding(f) {
  return el('li', { class: 'finding ' + f.severity, dataset: { stage: f.stage, kind: f.kind } },
    el('div', { class: 'finding-head' },
      el('span', { class: 'severity ' + f.severity, text: f.severity }),
      el('span', { class: 'stage', dataset: { stage: f.stage }, text: f.stage }),
      el('strong', { class: 'finding-title', text: f.title })),
    el('p', { class: 'finding-detail', text: f.detail }),
    el('p', { class: 'finding-rec' }, el('span', { class: 'rec-label', text: 'What to do: ' }), f.recommendation),
    f.score_ms ? el('p', { class: 'muted', text: `costs each slow trace about ${ms(f.score_ms)} (${pct(f.share)} of its latency)` }) : null,
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
