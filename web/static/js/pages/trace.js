// Trace: a waterfall of one trace with its critical path highlighted, and
// the details of the selected span. Names, attributes and events come from
// the traced pipeline and are only ever set as text.

import { el, clear, section, table, message } from '../dom.js';
import { getJSON } from '../api.js';
import { ms, num, time, attrValue } from '../format.js';
import { stageColor } from '../charts.js';

export async function render(view, ctx) {
  if (!ctx.arg) {
    view.appendChild(message('No trace selected.', 'error'));
    return null;
  }
  const t = await getJSON('/api/traces/' + encodeURIComponent(ctx.arg));
  if (!ctx.alive()) return null;
  const total = Math.max(t.duration_ms || 0, 1e-6);
  const cpTotal = (t.critical_path || []).reduce((a, s) => a + (s.duration_ms || 0), 0);

  const head = el('div', { class: 'trace-head' },
    el('h1', { class: 'trace-title', text: t.name || '(no root span)' }),
    el('div', { class: 'trace-meta' },
      meta('Trace', t.trace_id, 'mono'),
      meta('Start', time(t.start)),
      meta('Duration', ms(t.duration_ms)),
      meta('Spans', num((t.spans || []).length)),
      meta('Errors', num(t.errors || 0)),
      meta('Status', t.status),
      t.service ? meta('Service', t.service) : null,
      t.run_id ? meta('Run', t.run_id) : null,
      meta('Critical path', ms(cpTotal)),
    ),
    t.jaeger_url ? el('a', { class: 'button', id: 'open-jaeger', href: t.jaeger_url, target: '_blank', rel: 'noopener noreferrer', text: 'Open in Jaeger' }) : null,
  );
  view.appendChild(head);

  const details = el('div', { id: 'span-details', class: 'card' }, message('Select a span to see its attributes, events and tokens.'));
  const segsBySpan = new Map();
  for (const s of t.critical_path || []) {
    if (!segsBySpan.has(s.span_id)) segsBySpan.set(s.span_id, []);
    segsBySpan.get(s.span_id).push(s);
  }
  const rows = (t.spans || []).map(s => row(s, total, segsBySpan.get(s.span_id) || [], t.start_ms, details));
  const axis = el('div', { class: 'wf-axis' },
    el('span', { text: '0' }), el('span', { text: ms(total / 2) }), el('span', { text: ms(total) }));
  const legend = el('p', { class: 'muted legend' },
    el('span', { class: 'legend-cp' }), ' critical path (what the trace waited for) · click a span for details');
  view.appendChild(section('Waterfall', legend,
    el('div', { class: 'waterfall', id: 'waterfall' }, el('div', { class: 'wf-row wf-header' }, el('div', { class: 'wf-label', text: 'Span' }), axis), rows)));
  view.appendChild(details);
  const first = (t.spans || []).find(s => s.status === 'error') || (t.spans || [])[0];
  if (first) showDetails(details, first);
  return null;
}

function meta(label, value, cls) {
  return el('span', { class: 'meta' }, el('span', { class: 'meta-label', text: label }), el('span', { class: 'meta-value ' + (cls || ''), text: value }));
}

function row(s, total, segs, traceStartMs, details) {
  const left = Math.min(100, Math.max(0, (s.offset_ms / total) * 100));
  const width = Math.max(0.15, Math.min(100 - left, (s.duration_ms / total) * 100));
  const bar = el('div', {
    class: 'wf-bar' + (s.status === 'error' ? ' error' : ''),
    style: { left: left + '%', width: width + '%', background: stageColor(s.stage) },
    title: `${s.stage} · ${ms(s.duration_ms)} (self ${ms(s.self_ms)})`,
  });
  const marks = segs.map(seg => {
    const l = ((seg.offset_ms) / total) * 100;
    const w = Math.max(0.1, (seg.duration_ms / total) * 100);
    return el('div', { class: 'wf-cp', style: { left: l + '%', width: w + '%' }, title: 'critical path: ' + ms(seg.duration_ms) + ' charged to ' + seg.charged_to });
  });
  // A streamed model call: mark where its first token came.
  const ft = s.first_token;
  if (ft) {
    const l = Math.min(100, Math.max(0, ((s.offset_ms + ft.ttft_ms) / total) * 100));
    marks.push(el('div', { class: 'wf-ttft', style: { left: l + '%' }, title: 'first token after ' + ms(ft.ttft_ms) }));
  }
  const label = el('div', { class: 'wf-label', style: { 'padding-left': (0.3 + s.depth * 1.1) + 'em' } },
    s.critical ? el('span', { class: 'cp-dot', title: 'on the critical path' }) : null,
    el('span', { class: 'span-name', text: s.name }),
    el('span', { class: 'stage', dataset: { stage: s.stage }, text: s.stage }),
    el('span', { class: 'wf-dur', text: ms(s.duration_ms) }),
    (s.flags || []).map(f => el('span', { class: 'badge span-flag', dataset: { flag: f }, text: flagText[f] || f, title: flagHelp[f] || '' })),
  );
  const r = el('div', {
    class: 'wf-row span-row' + (s.critical ? ' critical' : '') + (s.status === 'error' ? ' error' : ''),
    dataset: { spanId: s.span_id, stage: s.stage },
    attrs: { tabindex: '0', role: 'button' },
  }, label, el('div', { class: 'wf-track' }, bar, marks));
  const select = () => {
    r.parentNode.querySelectorAll('.selected').forEach(x => x.classList.remove('selected'));
    r.classList.add('selected');
    showDetails(details, s);
  };
  r.addEventListener('click', select);
  r.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); select(); } });
  return r;
}

// How a span sits in its trace (package tracetree's flags).
const flagText = { orphan: 'parent missing', clock_skew: 'clock skew', fire_and_forget: 'outlives parent', unreachable: 'parent cycle' };
const flagHelp = {
  orphan: 'its parent span never arrived; shown under the root, whose self time excludes it',
  clock_skew: 'starts before its parent (or, from another service, ends just after it): the two clocks disagree',
  fire_and_forget: 'ends after its parent returned: the parent did not wait for it',
  unreachable: 'caught in a parent cycle; not under the root',
};

function showDetails(node, s) {
  clear(node);
  node.appendChild(el('h2', { class: 'detail-name', text: s.name }));
  node.appendChild(el('dl', { class: 'kv' },
    kv('Span', s.span_id), kv('Parent', s.parent_id || '(root)'), kv('Stage', s.stage),
    kv('Scope', s.scope || ''), kv('Status', s.status),
    kv('Start offset', ms(s.offset_ms)), kv('Duration', ms(s.duration_ms)), kv('Self time', ms(s.self_ms)),
    kv('On critical path', s.critical ? ms(s.critical_ms) : 'no'),
  ));
  if (s.first_token) {
    node.appendChild(el('h3', { text: 'Streaming' }));
    node.appendChild(el('dl', { class: 'kv first-token' },
      kv('Time to first token', ms(s.first_token.ttft_ms)),
      kv('Stream after first token', ms(s.first_token.stream_ms))));
  }
  if (s.error) node.appendChild(el('p', { class: 'msg error span-error', text: s.error }));
  if (s.tokens) {
    const tk = s.tokens;
    node.appendChild(el('h3', { text: 'Tokens' }));
    node.appendChild(el('dl', { class: 'kv tokens' },
      tk.model ? kv('Model', tk.model) : null,
      kv('Prompt', num(tk.prompt || 0)), kv('Completion', num(tk.completion || 0)),
      tk.embedding ? kv('Embedding', num(tk.embedding)) : null));
  }
  node.appendChild(el('h3', { text: 'Attributes' }));
  node.appendChild((s.attrs || []).length
    ? table([
      { label: 'Key', class: 'mono', value: a => a.k },
      { label: 'Type', value: a => a.t },
      { label: 'Value', class: 'attr-value', value: a => attrValue(a) },
    ], s.attrs, { class: 'attrs' })
    : message('none'));
  if ((s.tags || []).length) {
    node.appendChild(el('h3', { text: 'Tags' }));
    node.appendChild(table([
      { label: 'Key', class: 'mono', value: x => x.key }, { label: 'Value', value: x => x.value },
    ], s.tags));
  }
  node.appendChild(el('h3', { text: 'Events' }));
  node.appendChild((s.events || []).length
    ? table([
      { label: 'At', class: 'num', value: e => ms(e.offset_ms) },
      { label: 'Name', value: e => e.name },
      { label: 'Attributes', value: e => (e.attrs || []).map(a => el('div', { class: 'attr-line' }, el('span', { class: 'mono', text: a.k + ' = ' }), attrValue(a))) },
    ], s.events, { class: 'events' })
    : message('none'));
}

function kv(k, v) {
  return [el('dt', { text: k }), el('dd', { text: v })];
}
