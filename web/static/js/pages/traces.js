// Traces: the searchable, filterable list. Filters live in the URL hash so a
// filtered list can be bookmarked and shared; the service comes from the
// header's picker. A search the store stopped at its scan budget says how
// far back it looked and continues from there on request.

import { el, section, table, message } from '../dom.js';
import { getJSON } from '../api.js';
import { ms, num, time, shortID } from '../format.js';
import { hashFor } from '../scope.js';

const stageNames = ['other', 'pool', 'retry', 'embed', 'retrieve', 'rerank', 'synth', 'llm', 'storage', 'query', 'tool', 'agent', 'chain'];
// The root span's status ("error": the request failed), or any failed span.
const statusNames = ['ok', 'error', 'dropped', 'unset', ['with_errors', 'any span failed']];
const filterKeys = ['name', 'service', 'stage', 'status', 'min_duration', 'attr', 'run'];
const pageSize = 50;

export async function render(view, ctx) {
  const f = {};
  for (const k of filterKeys) f[k] = ctx.params.get(k) || '';

  const input = (name, label, placeholder) => el('label', null, label,
    el('input', { name, value: f[name], placeholder, attrs: { 'data-filter': name } }));
  const select = (name, label, options) => el('label', null, label,
    el('select', { name, attrs: { 'data-filter': name } },
      el('option', { value: '', text: 'any' }),
      options.map(o => {
        const [value, text] = Array.isArray(o) ? o : [o, o];
        return el('option', { value, text, selected: f[name] === value });
      })));

  const form = el('form', { class: 'filters', id: 'trace-filters' },
    input('name', 'Name', 'contains…'),
    select('stage', 'Stage', stageNames),
    select('status', 'Status', statusNames),
    input('min_duration', 'Min duration', 'e.g. 250ms'),
    input('attr', 'Attribute', 'key=value'),
    input('run', 'Run', 'run id'),
    el('button', { type: 'submit', text: 'Apply' }),
    el('button', { type: 'button', class: 'secondary', text: 'Reset', on: { click: () => ctx.go('traces', '', {}) } }),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = {};
    for (const k of filterKeys) if (form.elements[k]) q[k] = form.elements[k].value.trim();
    ctx.go('traces', '', q);
  });

  view.appendChild(el('h1', { text: 'Traces' }));
  view.appendChild(form);
  const holder = el('div', { id: 'trace-list' });
  const more = el('button', { type: 'button', class: 'secondary', text: 'Load more', hidden: true, id: 'load-more' });
  const scanned = el('p', { class: 'muted', id: 'trace-scanned', hidden: true });
  const count = el('p', { class: 'muted', id: 'trace-count' });
  view.appendChild(section('Results', count, holder, scanned, more));

  const params = { ...ctx.window(), limit: pageSize };
  for (const k of filterKeys) if (f[k]) params[k] = f[k];
  const rows = [];
  const load = async (cursor) => {
    const page = await getJSON('/api/traces', cursor ? { ...params, cursor } : params);
    if (!ctx.alive()) return;
    rows.push(...(page.traces || []));
    holder.replaceChildren(rows.length ? traceTable(rows)
      : message(page.partial ? 'No match among the traces searched so far.' : 'No traces match these filters.'));
    count.textContent = num(rows.length) + (page.next_cursor ? '+' : '') + ' traces';
    scanned.hidden = !page.partial;
    scanned.textContent = page.partial ? `Searched traces back to ${time(page.scanned_to_ms)}; older ones not yet.` : '';
    more.textContent = page.partial ? 'Search further back' : 'Load more';
    more.hidden = !page.next_cursor;
    more.onclick = () => load(page.next_cursor).catch(e => holder.appendChild(message(e.message, 'error')));
  };
  await load('');
  return null;
}

export function traceTable(rows) {
  return table([
    { label: 'Start', value: t => time(t.start) },
    { label: 'Name', value: t => el('a', { href: hashFor('trace', t.trace_id), class: 'trace-name', text: t.name || '(no root span)' }) },
    { label: 'Duration', class: 'num', value: t => ms(t.duration_ms) },
    { label: 'Spans', class: 'num', value: t => num(t.spans) },
    { label: 'Errors', class: 'num', value: t => num(t.errors) },
    { label: 'Status', title: 'the root span\'s status: error means the request failed', value: t => el('span', { class: 'status ' + t.status, text: t.status }) },
    { label: 'Service', value: t => t.service || '' },
    { label: 'Stages', value: t => (t.stages || []).map(s => el('span', { class: 'stage', dataset: { stage: s }, text: s })) },
    { label: 'Trace', class: 'mono', value: t => shortID(t.trace_id) },
  ], rows, { class: 'traces-table', rowData: t => ({ traceId: t.trace_id, status: t.status }) });
}
