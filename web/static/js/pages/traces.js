// Traces: the searchable, filterable list. Filters, sort order and the time
// window live in the URL hash so a list can be bookmarked and shared; the
// service comes from the header's picker. A scatter of duration over time
// shows the loaded traces: dragging a box on it narrows the window and the
// duration range to that box. A search the store stopped at its scan
// budget says how far back it looked and continues from there on request.

import { el, section, table, message } from '../dom.js';
import { getJSON } from '../api.js';
import { ms, num, time, shortID } from '../format.js';
import { hashFor } from '../scope.js';
import { durationScatter } from '../charts.js';

const stageNames = ['other', 'pool', 'retry', 'embed', 'retrieve', 'rerank', 'synth', 'llm', 'storage', 'query', 'tool', 'agent', 'chain'];
// The root span's status ("error": the request failed), or any failed span.
const statusNames = ['ok', 'error', 'dropped', 'unset', ['with_errors', 'any span failed']];
const filterKeys = ['name', 'service', 'stage', 'status', 'min_duration', 'max_duration', 'attr', 'run'];
const pageSize = 100;

// Columns the server sorts over the whole window (bounded like every list:
// past the scan budget, over the newest traces, and the page says so).
const serverSorts = ['start', 'duration', 'spans'];

// Sortable columns: the key of the sort parameter and the row value. The
// others sort the loaded rows.
const sorters = {
  start: t => t.start_ms, name: t => (t.name || '').toLowerCase(), duration: t => t.duration_ms,
  spans: t => t.spans, errors: t => t.errors, status: t => t.status, service: t => t.service || '',
};

export async function render(view, ctx) {
  const f = {};
  for (const k of filterKeys) f[k] = ctx.params.get(k) || '';
  const sortParam = ctx.params.get('sort') || '';
  const sort = { key: sortParam.replace(/^-/, ''), desc: sortParam.startsWith('-') };
  if (!sorters[sort.key]) { sort.key = ''; sort.desc = false; }

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
    input('max_duration', 'Max duration', 'e.g. 2s'),
    input('attr', 'Attribute', 'key=value'),
    input('run', 'Run', 'run id'),
    el('button', { type: 'submit', text: 'Apply' }),
    el('button', { type: 'button', class: 'secondary', text: 'Reset', on: { click: () => ctx.go('traces', '', {}) } }),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = {};
    for (const k of filterKeys) if (form.elements[k]) q[k] = form.elements[k].value.trim();
    if (sortParam) q.sort = sortParam;
    ctx.go('traces', '', q);
  });

  // Jump to a trace by id (32 hex digits; a shorter Jaeger id is padded).
  const idInput = el('input', { name: 'trace_id', id: 'trace-id-input', placeholder: 'trace id', attrs: { 'aria-label': 'trace id', autocomplete: 'off', spellcheck: 'false' } });
  const idError = el('span', { class: 'error', id: 'trace-id-error', hidden: true });
  const lookup = el('form', { class: 'filters lookup', id: 'trace-lookup' },
    el('label', null, 'Open a trace by id', idInput), el('button', { type: 'submit', class: 'secondary', text: 'Open' }), idError);
  lookup.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = idInput.value.trim().replace(/-/g, '').toLowerCase();
    if (!/^[0-9a-f]{1,32}$/.test(v) || /^0+$/.test(v)) {
      idError.textContent = 'not a trace id: want up to 32 hex digits';
      idError.hidden = false;
      return;
    }
    ctx.go('trace', v.padStart(32, '0'), {});
  });

  view.appendChild(el('h1', { text: 'Traces' }));
  view.appendChild(lookup);
  view.appendChild(form);
  const plotHolder = el('div', { id: 'trace-scatter' });
  const plotNote = el('p', { class: 'muted', id: 'trace-scatter-note' });
  view.appendChild(section('Duration over time', plotNote, plotHolder));
  const holder = el('div', { id: 'trace-list' });
  const more = el('button', { type: 'button', class: 'secondary', text: 'Load more', hidden: true, id: 'load-more' });
  const scanned = el('p', { class: 'muted', id: 'trace-scanned', hidden: true });
  const count = el('p', { class: 'muted', id: 'trace-count' });
  view.appendChild(section('Results', count, holder, scanned, more));

  const params = { ...ctx.window(), limit: pageSize };
  for (const k of filterKeys) if (f[k]) params[k] = f[k];
  // An attribute filter opens traces one by one: the server does not sort
  // it, so the loaded rows are.
  let byServer = serverSorts.includes(sort.key) && !f.attr;
  if (byServer) params.sort = (sort.desc ? '-' : '') + sort.key;
  const rows = [];
  let chart = null;

  // A box dragged on the scatter becomes the window and the duration range.
  const onBox = (b) => {
    const q = {};
    for (const k of filterKeys) if (f[k]) q[k] = f[k];
    if (sortParam) q.sort = sortParam;
    q.from = String(Math.floor(b.from));
    q.to = String(Math.ceil(b.to));
    q.min_duration = Math.max(0, Math.floor(b.minMs * 10) / 10) + 'ms';
    q.max_duration = Math.ceil(b.maxMs * 10) / 10 + 'ms';
    ctx.go('traces', '', q);
  };

  const show = () => {
    const sorted = sort.key && !byServer ? [...rows].sort((a, b) => cmp(sorters[sort.key](a), sorters[sort.key](b)) * (sort.desc ? -1 : 1)) : rows;
    holder.replaceChildren(sorted.length ? traceTable(sorted, { sort, onSort: (key) => {
      const desc = sort.key === key ? !sort.desc : key !== 'name' && key !== 'service' && key !== 'status';
      const q = {};
      for (const [k, v] of ctx.params) q[k] = v;
      q.sort = (desc ? '-' : '') + key;
      if (serverSorts.includes(key) && !f.attr) {
        ctx.go('traces', '', q); // the server sorts the window: load again
        return;
      }
      sort.desc = desc;
      sort.key = key;
      byServer = false; // the loaded rows, in this column's order
      history.replaceState(null, '', hashFor('traces', '', q));
      show();
      count.textContent = count.textContent.replace(/ \(the loaded ones sorted\)$/, '') + ' (the loaded ones sorted)';
    } }) : message(lastPage && lastPage.partial ? 'No match among the traces searched so far.' : 'No traces match these filters.'));
    if (chart) chart.destroy();
    chart = null;
    const pts = rows.filter(t => t.start_ms);
    if (pts.length) {
      chart = durationScatter(pts.map(t => ({ x: t.start_ms / 1000, y: t.duration_ms, error: t.status === 'error' })), onBox);
      plotHolder.replaceChildren(chart.node);
      plotNote.textContent = `The ${num(pts.length)} traces listed below; drag a box to keep only the traces inside it.`;
    } else {
      plotHolder.replaceChildren();
      plotNote.textContent = 'No traces to plot.';
    }
  };

  let lastPage = null;
  const load = async (cursor) => {
    const page = await getJSON('/api/traces', cursor ? { ...params, cursor } : params);
    if (!ctx.alive()) return;
    lastPage = page;
    holder.dataset.sort = page.sort || ''; // the order the server sorted in
    rows.push(...(page.traces || []));
    show();
    count.textContent = num(rows.length) + (page.next_cursor ? '+' : '') + ' traces' + (sort.key && !byServer ? ' (the loaded ones sorted)' : '');
    scanned.hidden = !page.partial;
    // A sorted list that is partial sorted the newest traces of the window;
    // its next pages go on through them, not further back.
    const sortedPart = page.partial && page.sort;
    scanned.textContent = !page.partial ? ''
      : sortedPart ? `Sorted over the traces back to ${time(page.scanned_to_ms)}, the newest of the window; narrow the window to sort all of it.`
        : `Searched traces back to ${time(page.scanned_to_ms)}; older ones not yet.`;
    more.textContent = page.partial && !sortedPart ? 'Search further back' : 'Load more';
    more.hidden = !page.next_cursor;
    more.onclick = () => load(page.next_cursor).catch(e => holder.appendChild(message(e.message, 'error')));
  };
  await load('');
  return () => { if (chart) chart.destroy(); };
}

function cmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

// traceTable lists traces; with opts.onSort its column heads sort.
export function traceTable(rows, opts = {}) {
  const cols = [
    { key: 'start', label: 'Start', value: t => time(t.start) },
    { key: 'name', label: 'Name', value: t => t.name
      ? el('a', { href: hashFor('trace', t.trace_id), class: 'trace-name', text: t.name })
      : [el('a', { href: hashFor('trace', t.trace_id), class: 'trace-name in-flight', text: 'root span not arrived yet' }), ' ',
        el('span', { class: 'badge in-flight', text: 'in flight', title: 'spans of this trace have arrived, its root span not yet: the request is still running (or its root was lost)' })] },
    { key: 'duration', label: 'Duration', class: 'num', value: t => ms(t.duration_ms) },
    { key: 'spans', label: 'Spans', class: 'num', value: t => num(t.spans) },
    { key: 'errors', label: 'Errors', class: 'num', value: t => num(t.errors) },
    { key: 'status', label: 'Status', title: 'the root span\'s status: error means the request failed', value: t => el('span', { class: 'status ' + t.status, text: t.status }) },
    { key: 'service', label: 'Service', value: t => t.service || '' },
    { label: 'Stages', class: 'stages', value: t => (t.stages || []).map(s => el('span', { class: 'stage', dataset: { stage: s }, text: s })) },
    { label: 'Trace', class: 'mono', value: t => shortID(t.trace_id) },
  ];
  const tbl = table(cols, rows, { class: 'traces-table', rowClass: t => t.name ? undefined : 'in-flight', rowData: t => ({ traceId: t.trace_id, status: t.status }) });
  if (opts.onSort) {
    tbl.querySelectorAll('thead th').forEach((th, i) => {
      const c = cols[i];
      if (!c.key) return;
      th.classList.add('sortable');
      th.dataset.sort = c.key;
      th.setAttribute('tabindex', '0');
      const on = opts.sort && opts.sort.key === c.key;
      th.setAttribute('aria-sort', on ? (opts.sort.desc ? 'descending' : 'ascending') : 'none');
      if (on) th.appendChild(document.createTextNode(opts.sort.desc ? ' ▼' : ' ▲'));
      th.addEventListener('click', () => opts.onSort(c.key));
      th.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); opts.onSort(c.key); } });
    });
  }
  return el('div', { class: 'table-scroll' }, tbl);
}
