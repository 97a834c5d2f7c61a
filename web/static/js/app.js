// The dashboard's entry point: hash router, time window, page lifecycle.
//
// Each page module exports render(view, ctx) which fills view and may return
// a cleanup function (closing streams, destroying charts). When a page has
// rendered, body[data-state] becomes "ready" (or "error"), which the browser
// tests wait for.

import { clear, message } from './dom.js';
import * as overview from './pages/overview.js';
import * as traces from './pages/traces.js';
import * as trace from './pages/trace.js';
import * as bottlenecks from './pages/bottlenecks.js';
import * as compare from './pages/compare.js';
import * as live from './pages/live.js';
import * as runs from './pages/runs.js';

const pages = { overview, traces, trace, bottlenecks, compare, live, runs };
const rangeKey = 'stagescope.range';
const rangeSelect = document.getElementById('range');
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

// timeWindow returns {from, to} in Unix milliseconds for the selected range
// ({} for everything).
function timeWindow() {
  const r = rangeSelect.value;
  if (r === 'all') return {};
  const hours = { '15m': 0.25, '1h': 1, '6h': 6, '24h': 24, '168h': 168, '720h': 720 }[r] || 1;
  const to = Date.now();
  return { from: Math.floor(to - hours * 3600e3), to: Math.ceil(to) };
}

function setHash(page, arg, params) {
  let h = '#/' + page + (arg ? '/' + encodeURIComponent(arg) : '');
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const qs = q.toString();
  if (qs) h += '?' + qs;
  if (location.hash !== h) location.hash = h;
  else route();
}

async function route() {
  const gen = ++generation;
  if (cleanup) { try { cleanup(); } catch (e) { console.warn('cleanup failed', e); } cleanup = null; }
  const { page, arg, params } = parseHash(location.hash);
  const mod = pages[page];
  document.querySelectorAll('#nav a').forEach(a => a.classList.toggle('active', a.dataset.page === page || (page === 'trace' && a.dataset.page === 'traces')));
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

function init() {
  const saved = localStorage.getItem(rangeKey);
  if (saved && [...rangeSelect.options].some(o => o.value === saved)) rangeSelect.value = saved;
  rangeSelect.addEventListener('change', () => {
    localStorage.setItem(rangeKey, rangeSelect.value);
    route();
  });
  window.addEventListener('hashchange', route);
  route();
}

init();
