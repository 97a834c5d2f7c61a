// The dashboard's entry point: hash router, time window, service picker,
// page lifecycle.
//
// Each page module exports render(view, ctx) which fills view and may return
// a cleanup function (closing streams, destroying charts). When a page has
// rendered, body[data-state] becomes "ready" (or "error"), which the browser
// tests wait for.

import { clear, el, message } from './dom.js';
import { getJSON } from './api.js';
import { num, time } from './format.js';
import { setService, currentService, hashFor, setWindowParams } from './scope.js';
import * as overview from './pages/overview.js';
import * as traces from './pages/traces.js';
import * as trace from './pages/trace.js';
import * as bottlenecks from './pages/bottlenecks.js';
import * as compare from './pages/compare.js';
import * as live from './pages/live.js';
import * as runs from './pages/runs.js';
import * as diff from './pages/diff.js';

const pages = { overview, traces, trace, bottlenecks, compare, live, runs, diff };
const rangeKey = 'stagescope.range';
const rangeSelect = document.getElementById('range');
const serviceSelect = document.getElementById('service');
const view = document.getElementById('view');
let cleanup = null;
let generation = 0;

// parseHash splits "#/page/arg?query" into its parts.
export function parseHash(hash) {
  const h = (hash || '').replace(/^#\/?/, '');
  const qi = h.indexOf('?');
  const path = qi >= 0 ? h.slice(0, qi) : h;
  const query = qi >= 0 ? h.slice(qi + 1) : '';
  const [page, ...rest] = path.split('/');
  return { page: page || 'overview', arg: decodeURIComponent(rest.join('/')), params: new URLSearchParams(query) };
}

const rangeHours = { '15m': 0.25, '1h': 1, '6h': 6, '24h': 24, '168h': 168, '720h': 720, all: 0 };
// custom is the window of the URL's from and to (Unix ms), when it has them.
let custom = null;

// timeWindow returns {from, to} in Unix milliseconds for the window of the
// URL: its from/to, or its range (the picker's, else the saved one); {} for
// everything.
function timeWindow() {
  if (custom) return { from: custom.from, to: custom.to };
  const r = rangeSelect.value;
  if (r === 'all') return {};
  const hours = rangeHours[r] || 1;
  const to = Date.now();
  return { from: Math.floor(to - hours * 3600e3), to: Math.ceil(to) };
}

// applyWindow reads the window from the URL's parameters into the picker
// and the links; it returns a key that changes when the window does.
function applyWindow(params) {
  const from = params.get('from'), to = params.get('to');
  const old = rangeSelect.querySelector('option[value="custom"]');
  if (from && to && /^\d+$/.test(from) && /^\d+$/.test(to) && Number(from) < Number(to)) {
    custom = { from: Number(from), to: Number(to) };
    const text = `${time(custom.from)} – ${time(custom.to)}`;
    const o = old || el('option', { value: 'custom' });
    o.textContent = text;
    if (!old) rangeSelect.appendChild(o);
    rangeSelect.value = 'custom';
    setWindowParams({ from, to });
    return 'custom:' + from + '-' + to;
  }
  custom = null;
  if (old) old.remove();
  const r = params.get('range');
  if (r && r in rangeHours) rangeSelect.value = r;
  else if (rangeSelect.value === 'custom' || !(rangeSelect.value in rangeHours)) rangeSelect.value = savedRange();
  setWindowParams({ range: rangeSelect.value });
  return rangeSelect.value;
}

function savedRange() {
  const saved = localStorage.getItem(rangeKey);
  return saved && saved in rangeHours ? saved : '1h';
}
let windowKey = '';

// setHash navigates; the chosen service is kept unless params name one
// (an empty one clears it).
function setHash(page, arg, params) {
  const h = hashFor(page, arg, params);
  if (location.hash !== h) location.hash = h;
  else route();
}

// showService makes the picker show s, adding it when the list of the
// window does not hold it (a bookmarked service with no traces lately).
function showService(s) {
  if (s && ![...serviceSelect.options].some(o => o.value === s)) {
    serviceSelect.appendChild(el('option', { value: s, text: s + ' (no traces in window)' }));
  }
  serviceSelect.value = s;
}

// loadServices fills the picker with the services of the window, from the
// store.
async function loadServices() {
  serviceSelect.dataset.state = 'loading';
  try {
    const res = await getJSON('/api/services', timeWindow());
    const opts = [el('option', { value: '', text: 'all services' })];
    for (const s of res.services || []) {
      opts.push(el('option', { value: s.service, text: `${s.service} (${num(s.traces)}${s.at_least ? '+' : ''})`, dataset: { traces: s.traces } }));
    }
    serviceSelect.replaceChildren(...opts);
    showService(currentService());
    serviceSelect.dataset.state = 'ready';
  } catch (_) {
    serviceSelect.dataset.state = 'error'; // the page itself shows API errors
  }
}

async function route() {
  const gen = ++generation;
  if (cleanup) { try { cleanup(); } catch (e) { console.warn('cleanup failed', e); } cleanup = null; }
  const { page, arg, params } = parseHash(location.hash);
  const mod = pages[page];
  setService(params.get('service'));
  const wk = applyWindow(params);
  if (windowKey && wk !== windowKey) loadServices();
  windowKey = wk;
  showService(currentService());
  document.querySelectorAll('#nav a').forEach(a => a.setAttribute('href', hashFor(a.dataset.page)));
  document.querySelector('.brand').setAttribute('href', hashFor('overview'));
  document.querySelectorAll('#nav a').forEach(a => a.classList.toggle('active', a.dataset.page === page || ((page === 'trace' || page === 'diff') && a.dataset.page === 'traces')));
  clear(view);
  document.body.dataset.state = 'loading';
  document.body.dataset.page = page;
  if (!mod) {
    view.appendChild(message('Unknown page "' + page + '".', 'error'));
    document.body.dataset.state = 'error';
    return;
  }
  const ctx = {
    arg, params,
    service: currentService(),
    window: timeWindow,
    go: (p, a, q) => setHash(p, a, q),
    alive: () => gen === generation,
  };
  try {
    const c = await mod.render(view, ctx);
    if (gen !== generation) { if (typeof c === 'function') c(); return; }
    cleanup = typeof c === 'function' ? c : null;
    document.body.dataset.state = 'ready';
  } catch (e) {
    if (gen !== generation) return;
    view.appendChild(message(e && e.message ? e.message : String(e), 'error'));
    document.body.dataset.state = 'error';
  }
}

// loadSource names the source every page reads when it is not the local
// database (a Jaeger query service), and says so when it does not answer.
async function loadSource() {
  const line = document.getElementById('source-line');
  try {
    const s = (await getJSON('/api/health')).source || {};
    line.dataset.source = s.kind || '';
    if (!s.kind || s.kind === 'sqlite') return;
    const name = s.kind === 'jaeger' ? 'Jaeger' : s.kind;
    line.textContent = `Source: ${name} (read-only; runs live in the local store) · stage aggregates from ` +
      (s.aggregates === 'metrics' ? 'Prometheus spanmetrics' : 'a sample of traces, described on each page');
  } catch (e) {
    line.dataset.source = 'error';
    line.textContent = 'Source: ' + (e && e.message ? e.message : String(e));
  }
  line.hidden = false;
}

function init() {
  rangeSelect.value = savedRange();
  rangeSelect.addEventListener('change', () => {
    if (rangeSelect.value === 'custom') return;
    localStorage.setItem(rangeKey, rangeSelect.value);
    const { page, arg, params } = parseHash(location.hash);
    const q = Object.fromEntries(params);
    q.range = rangeSelect.value;
    q.from = ''; q.to = '';
    delete q.cursor;
    setHash(page, arg, q);
  });
  serviceSelect.addEventListener('change', () => {
    const { page, arg, params } = parseHash(location.hash);
    const q = Object.fromEntries(params);
    q.service = serviceSelect.value;
    delete q.cursor;
    setHash(page, arg, q);
  });
  window.addEventListener('hashchange', route);
  // The page first: the service list (a count over the window's traces)
  // is asked once the page has rendered, so the two do not share the CPU.
  route().finally(loadServices);
  loadSource();
}

init();
