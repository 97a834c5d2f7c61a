// Live: traces of attached pipelines as they arrive, over Server-Sent Events.

import { el, section, message } from '../dom.js';
import { traceTable } from './traces.js';
import { withParams } from '../api.js';
import { withService } from '../scope.js';

const maxRows = 200;

export async function render(view, ctx) {
  const status = el('span', { class: 'live-status connecting', id: 'live-status', text: 'connecting…' });
  const count = el('span', { class: 'muted', id: 'live-count', text: '0 traces' });
  const holder = el('div', { id: 'live-list' }, message('Waiting for traces…'));
  view.appendChild(el('h1', { text: 'Live' + (ctx.service ? ' · ' + ctx.service : '') }));
  view.appendChild(el('p', null, status, ' ', count));
  view.appendChild(section('Newest first', holder));
  const rows = [];
  let seen = 0;
  const es = new EventSource(withParams('/api/live', withService({})));
  es.addEventListener('open', () => { status.textContent = 'connected'; status.className = 'live-status connected'; });
  es.addEventListener('error', () => {
    status.textContent = es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting…';
    status.className = 'live-status broken';
  });
  es.addEventListener('trace', (ev) => {
    let t;
    try { t = JSON.parse(ev.data); } catch (_) { return; }
    seen++;
    rows.unshift(t);
    if (rows.length > maxRows) rows.length = maxRows;
    holder.replaceChildren(traceTable(rows));
    count.textContent = seen + ' traces';
  });
  es.addEventListener('dropped', () => {
    status.textContent = 'fell behind; reconnecting…';
    status.className = 'live-status broken';
  });
  return () => es.close();
}
