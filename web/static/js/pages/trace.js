// Trace: the waterfall of one trace (package waterfall.js) and the details
// of the selected span, with the model-call view for LLM spans. The
// selected span and the zoom live in the URL (span=, zoom=), so a link
// opens the trace at that span. Names, attributes and events come from the
// traced pipeline and are only ever set as text.

import { el, clear, table, message } from '../dom.js';
import { getJSON } from '../api.js';
import { ms, num, time, attrValue } from '../format.js';
import { hashFor } from '../scope.js';
import { waterfall } from '../waterfall.js';
import { llmView } from '../llm.js';

export async function render(view, ctx) {
  if (!ctx.arg) {
    view.appendChild(message('No trace selected.', 'error'));
    return null;
  }
  const t = await getJSON('/api/traces/' + encodeURIComponent(ctx.arg));
  if (!ctx.alive()) return null;
  const cpTotal = (t.critical_path || []).reduce((a, s) => a + (s.duration_ms || 0), 0);
  const inFlight = !t.name;

  // The URL holds the selected span and the zoom; replaceState changes it
  // without a new render.
  const state = { span: ctx.params.get('span') || '', zoom: ctx.params.get('zoom') || '' };
  const keep = () => {
    const q = {};
    for (const [k, v] of ctx.params) if (k !== 'span' && k !== 'zoom') q[k] = v;
    if (state.span) q.span = state.span;
    if (state.zoom) q.zoom = state.zoom;
    history.replaceState(null, '', hashFor('trace', t.trace_id, q));
  };

  const head = el('div', { class: 'trace-head' },
    el('h1', { class: 'trace-title', text: t.name || 'in flight: the root span has not arrived yet' }),
    inFlight ? el('span', { class: 'badge in-flight', text: 'in flight' }) : null,
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
    el('div', { class: 'trace-actions' },
      el('a', { class: 'button secondary', id: 'diff-link', href: hashFor('diff', '', { a: t.trace_id }), text: 'Diff with…' }),
      el('a', { class: 'button secondary', id: 'download-json', href: '/api/traces/' + encodeURIComponent(t.trace_id),
        attrs: { download: 'trace-' + t.trace_id + '.json' }, text: 'Download JSON' }),
      t.jaeger_url ? el('a', { class: 'button', id: 'open-jaeger', href: t.jaeger_url, target: '_blank', rel: 'noopener noreferrer', text: 'Open in Jaeger' }) : null),
  );
  view.appendChild(head);

  const details = el('div', { id: 'span-details', class: 'card' }, message('Select a span to see its attributes, events and tokens.'));
  let zoom = null;
  const z = state.zoom.split(',').map(Number);
  if (z.length === 2 && z.every(Number.isFinite) && z[1] > z[0]) zoom = z;
  let opened = false; // the first selection is the page's, not the user's
  const wf = waterfall(t, {
    zoom,
    onSelect: (s) => {
      showDetails(details, s, t);
      if (!opened) return;
      state.span = s.span_id;
      keep();
    },
    onZoom: (r) => { state.zoom = r ? r.map(v => +v.toFixed(3)).join(',') : ''; keep(); },
  });
  view.appendChild(el('section', { class: 'card' }, el('h2', { text: 'Waterfall' }), wf.node));
  view.appendChild(details);
  const spans = t.spans || [];
  if (state.span && wf.select(state.span, true)) {
    // opened at a span (a deep link)
  } else {
    const i = Math.max(0, spans.findIndex(s => s.status === 'error'));
    if (spans.length) wf.selectRow(i);
    if (state.span) details.prepend(message(`Span ${state.span} is not in this trace.`, 'error'));
  }
  opened = true;
  return () => wf.destroy();
}

function meta(label, value, cls) {
  return el('span', { class: 'meta' }, el('span', { class: 'meta-label', text: label }), el('span', { class: 'meta-value ' + (cls || ''), text: value }));
}

function showDetails(node, s, t) {
  clear(node);
  node.appendChild(el('div', { class: 'detail-head' },
    el('h2', { class: 'detail-name', text: s.name }),
    el('a', { id: 'span-link', class: 'muted', href: hashFor('trace', t.trace_id, { span: s.span_id }), text: 'link to this span' })));
  node.appendChild(el('dl', { class: 'kv' },
    kv('Span', s.span_id), kv('Parent', s.parent_id || '(root)'), kv('Stage', s.stage),
    kv('Scope', s.scope || ''), kv('Status', s.status),
    kv('Start offset', ms(s.offset_ms)), kv('Duration', ms(s.duration_ms)), kv('Self time', ms(s.self_ms)),
    kv('On critical path', s.critical ? ms(s.critical_ms) : 'no'),
  ));
  if (s.error) node.appendChild(el('p', { class: 'msg error span-error', text: s.error }));
  const llm = llmView(s);
  if (llm) node.appendChild(llm);
  if (s.first_token) {
    node.appendChild(el('h3', { text: 'Streaming' }));
    node.appendChild(el('dl', { class: 'kv first-token' },
      kv('Time to first token', ms(s.first_token.ttft_ms)),
      kv('Stream after first token', ms(s.first_token.stream_ms))));
  }
  if (s.tokens && !llm) {
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
