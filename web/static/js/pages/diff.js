// Diff: two traces side by side, stage by stage — per stage the time on
// the critical path, the self time and the span count of each, and the
// spans (matched by stage, name and order) whose duration changed most.
// Names come from traced pipelines and are only ever set as text.

import { el, section, table, message } from '../dom.js';
import { getJSON } from '../api.js';
import { ms, num, shortID } from '../format.js';
import { hashFor } from '../scope.js';

export async function render(view, ctx) {
  const a = (ctx.params.get('a') || '').trim(), b = (ctx.params.get('b') || '').trim();
  view.appendChild(el('h1', { text: 'Trace diff' }));
  const input = (name, label, v) => el('label', null, label, el('input', { name, value: v, placeholder: 'trace id', attrs: { autocomplete: 'off', spellcheck: 'false' } }));
  const form = el('form', { class: 'filters', id: 'diff-form' }, input('a', 'Baseline trace', a), input('b', 'Candidate trace', b),
    el('button', { type: 'submit', text: 'Diff' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    ctx.go('diff', '', { a: form.elements.a.value.trim(), b: form.elements.b.value.trim() });
  });
  view.appendChild(form);
  if (!a || !b) {
    view.appendChild(message('Give two trace ids to compare them stage by stage.'));
    return null;
  }
  const [ta, tb] = await Promise.all([getJSON('/api/traces/' + encodeURIComponent(a)), getJSON('/api/traces/' + encodeURIComponent(b))]);
  if (!ctx.alive()) return null;
  const sa = byStage(ta), sb = byStage(tb);
  const stages = [...new Set([...sa.keys(), ...sb.keys()])];
  const zero = { spans: 0, self: 0, critical: 0 };
  const rows = stages.map(stage => {
    const x = sa.get(stage) || zero, y = sb.get(stage) || zero;
    return { stage, a: x, b: y, dCritical: y.critical - x.critical, dSelf: y.self - x.self };
  }).sort((p, q) => Math.abs(q.dCritical) - Math.abs(p.dCritical) || Math.abs(q.dSelf) - Math.abs(p.dSelf));
  const dTotal = (tb.duration_ms || 0) - (ta.duration_ms || 0);
  const top = rows[0];
  const verdict = top && Math.abs(top.dCritical) > 0
    ? `The candidate is ${ms(Math.abs(dTotal))} ${dTotal >= 0 ? 'slower' : 'faster'} end to end; ${top.stage} moved most on the critical path (${signed(top.dCritical)}).`
    : `The candidate is ${ms(Math.abs(dTotal))} ${dTotal >= 0 ? 'slower' : 'faster'} end to end.`;
  view.appendChild(el('div', { class: 'side-by-side' }, side('Baseline', ta), side('Candidate', tb)));
  view.appendChild(el('p', { class: 'msg', id: 'diff-verdict', text: verdict }));
  view.appendChild(section('By stage', table([
    { label: 'Stage', value: r => el('span', { class: 'stage', dataset: { stage: r.stage }, text: r.stage }) },
    { label: 'Critical path', class: 'num', value: r => ms(r.a.critical) },
    { label: '→', class: 'num', value: r => ms(r.b.critical) },
    { label: 'Change', class: 'num d-critical', value: r => signed(r.dCritical) },
    { label: 'Self time', class: 'num', value: r => ms(r.a.self) },
    { label: '→', class: 'num', value: r => ms(r.b.self) },
    { label: 'Change', class: 'num d-self', value: r => signed(r.dSelf) },
    { label: 'Spans', class: 'num', value: r => `${num(r.a.spans)} → ${num(r.b.spans)}` },
  ], rows, { class: 'diff-table', rowData: r => ({ stage: r.stage }) })));
  // Spans matched by stage, name and order of appearance; the roots match
  // each other whatever their names.
  const key = (s, i, seen) => {
    if (i === 0) return '\u0000root';
    const k = s.stage + '\u0000' + s.name; const n = seen.get(k) || 0; seen.set(k, n + 1); return k + '\u0000' + n;
  };
  const ma = new Map(), seenA = new Map();
  (ta.spans || []).forEach((s, i) => ma.set(key(s, i, seenA), s));
  const pairs = [], seenB = new Map();
  for (const [i, s] of (tb.spans || []).entries()) {
    const k = key(s, i, seenB);
    const o = ma.get(k);
    pairs.push({ stage: s.stage, name: o && o.name !== s.name ? o.name + ' → ' + s.name : s.name, depth: s.depth,
      a: o ? o.duration_ms : null, b: s.duration_ms, d: s.duration_ms - (o ? o.duration_ms : 0) });
    ma.delete(k);
  }
  for (const s of ma.values()) pairs.push({ stage: s.stage, name: s.name, depth: s.depth, a: s.duration_ms, b: null, d: -s.duration_ms });
  // Biggest change first; of equal ones the deepest, where the time went.
  pairs.sort((p, q) => Math.abs(q.d) - Math.abs(p.d) || q.depth - p.depth);
  view.appendChild(section('Spans that changed most', table([
    { label: 'Span', class: 'span-name', value: p => p.name },
    { label: 'Stage', value: p => el('span', { class: 'stage', dataset: { stage: p.stage }, text: p.stage }) },
    { label: 'Baseline', class: 'num', value: p => p.a === null ? 'absent' : ms(p.a) },
    { label: 'Candidate', class: 'num', value: p => p.b === null ? 'absent' : ms(p.b) },
    { label: 'Change', class: 'num', value: p => signed(p.d) },
  ], pairs.slice(0, 15), { class: 'diff-spans' })));
  return null;
}

function signed(v) { return (v > 0 ? '+' : v < 0 ? '−' : '±') + ms(Math.abs(v)); }

// byStage sums a trace's spans and critical path per stage.
function byStage(t) {
  const m = new Map();
  const get = (s) => { if (!m.has(s)) m.set(s, { spans: 0, self: 0, critical: 0 }); return m.get(s); };
  for (const s of t.spans || []) { const x = get(s.stage); x.spans++; x.self += s.self_ms || 0; }
  for (const seg of t.critical_path || []) get(seg.stage).critical += seg.duration_ms || 0;
  return m;
}

function side(title, t) {
  return el('section', { class: 'card side', dataset: { side: title.toLowerCase() } },
    el('h2', { text: title }),
    el('p', null, el('a', { href: hashFor('trace', t.trace_id), class: 'trace-name', text: t.name || 'in flight' }), ' ',
      el('span', { class: 'mono muted', text: shortID(t.trace_id) })),
    el('dl', { class: 'kv' },
      [el('dt', { text: 'Duration' }), el('dd', { class: 'side-duration', text: ms(t.duration_ms) })],
      [el('dt', { text: 'Spans' }), el('dd', { text: num((t.spans || []).length) })],
      [el('dt', { text: 'Status' }), el('dd', { text: t.status })]));
}
