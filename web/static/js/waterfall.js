// The waterfall of one trace: rows in depth-first order with collapsible
// subtrees, bars placed on a zoomable time axis (drag across the bars or the
// minimap to zoom, Reset to see it all), the critical path drawn as one
// connected line through the rows it visits, a search that highlights
// matching spans, and keyboard navigation (↑/↓ move, ← collapses or goes to
// the parent, → expands or goes to the first child). Span names and
// attribute values are only ever set as text.

import { el } from './dom.js';
import { ms } from './format.js';
import { stageColor } from './charts.js';

const svgNS = 'http://www.w3.org/2000/svg';
// minZoomMs is the narrowest time range a zoom shows (one microsecond).
const minZoomMs = 0.001;

// How a span sits in its trace (package tracetree's flags).
const flagText = { orphan: 'parent missing', clock_skew: 'clock skew', fire_and_forget: 'outlives parent', unreachable: 'parent cycle' };
const flagHelp = {
  orphan: 'its parent span never arrived; shown under the root, whose self time excludes it',
  clock_skew: 'starts before its parent (or, from another service, ends just after it): the two clocks disagree',
  fire_and_forget: 'ends after its parent returned: the parent did not wait for it',
  unreachable: 'caught in a parent cycle; not under the root',
};

// waterfall builds the view of trace t (the /api/traces/:id answer).
// opts.onSelect(span) is called when a span is selected; opts.onZoom(range
// or null) when the zoom changes; opts.zoom is an initial [from, to] in ms
// from the trace start. It returns {node, select(spanID, scroll), destroy}.
export function waterfall(t, opts = {}) {
  const spans = t.spans || [];
  const n = spans.length;
  const total = Math.max(t.duration_ms || 0, ...spans.map(s => (s.offset_ms || 0) + (s.duration_ms || 0)), 1e-3);
  // The tree, from the depth-first order: parent row, end of each subtree.
  const parent = new Array(n).fill(-1);
  const end = new Array(n).fill(n);
  const stack = [];
  spans.forEach((s, i) => {
    while (stack.length && spans[stack[stack.length - 1]].depth >= s.depth) end[stack.pop()] = i;
    parent[i] = stack.length ? stack[stack.length - 1] : -1;
    stack.push(i);
  });
  const hasKids = (i) => i + 1 < n && end[i] > i + 1;
  const index = new Map(spans.map((s, i) => [s.span_id, i]));
  const collapsed = new Set();
  let view = [0, total];
  if (Array.isArray(opts.zoom) && opts.zoom[1] - opts.zoom[0] >= minZoomMs) {
    view = [Math.max(0, opts.zoom[0]), Math.min(total, opts.zoom[1])];
    if (view[1] - view[0] < minZoomMs) view = [0, total];
  }
  let selected = -1;
  let matches = [];
  let matchAt = -1;

  // Rows.
  const rows = spans.map((s, i) => makeRow(s, i));
  const axis = el('div', { class: 'wf-axis wf-track-area' });
  const header = el('div', { class: 'wf-row wf-header' }, el('div', { class: 'wf-label', text: 'Span' }), axis);
  const selBox = el('div', { class: 'wf-selection', hidden: true });
  const cpSvg = document.createElementNS(svgNS, 'svg');
  cpSvg.setAttribute('class', 'wf-cp-layer');
  cpSvg.setAttribute('aria-hidden', 'true');
  const cpPath = document.createElementNS(svgNS, 'path');
  cpPath.setAttribute('class', 'wf-cp-path');
  cpPath.id = 'wf-critical';
  cpSvg.appendChild(cpPath);
  const body = el('div', { class: 'waterfall', id: 'waterfall', attrs: { role: 'tree', 'aria-label': 'spans of the trace' } },
    header, rows.map(r => r.node), cpSvg, selBox);

  // Minimap: every span as a thin line over the whole trace, the zoomed
  // range as a window.
  const mmCanvas = el('canvas', { class: 'wf-mm-canvas' });
  const mmWindow = el('div', { class: 'wf-mm-window', id: 'wf-mm-window' });
  const mmSel = el('div', { class: 'wf-selection', hidden: true });
  const minimap = el('div', { class: 'wf-minimap', id: 'wf-minimap', title: 'the whole trace; drag to zoom' }, mmCanvas, mmWindow, mmSel);

  // Toolbar: search, zoom state.
  const search = el('input', { type: 'search', id: 'span-search', placeholder: 'find spans: name, stage, attribute…', attrs: { 'aria-label': 'find spans' } });
  const found = el('span', { class: 'muted', id: 'span-search-count' });
  const zoomText = el('span', { class: 'muted', id: 'wf-zoom-range' });
  const reset = el('button', { type: 'button', class: 'secondary', id: 'wf-reset-zoom', text: 'Reset zoom', hidden: true });
  const collapseAll = el('button', { type: 'button', class: 'secondary', id: 'wf-collapse-all', text: 'Collapse all' });
  const expandAll = el('button', { type: 'button', class: 'secondary', id: 'wf-expand-all', text: 'Expand all' });
  const tools = el('div', { class: 'wf-tools' }, search, found, zoomText, reset, collapseAll, expandAll);
  const legend = el('p', { class: 'muted legend' },
    el('span', { class: 'legend-cp' }), ' critical path (what the trace waited for) · drag across the bars to zoom · ↑ ↓ ← → to move and fold');
  const node = el('div', { class: 'wf-wrap' }, tools, legend, minimap, el('div', { class: 'wf-scroll' }, body));

  function makeRow(s, i) {
    const bar = el('div', {
      class: 'wf-bar' + (s.status === 'error' ? ' error' : ''),
      style: { background: stageColor(s.stage) },
      title: `${s.stage} · ${ms(s.duration_ms)} (self ${ms(s.self_ms)})`,
    });
    const barLabel = el('span', { class: 'wf-bar-label', text: ms(s.duration_ms) });
    const ttft = s.first_token ? el('div', { class: 'wf-ttft', title: 'first token after ' + ms(s.first_token.ttft_ms) }) : null;
    const toggle = hasKids(i)
      ? el('button', { type: 'button', class: 'wf-toggle', title: 'fold or unfold the children', attrs: { 'aria-label': 'fold', tabindex: '-1' } })
      : el('span', { class: 'wf-toggle-space' });
    const name = el('span', { class: 'span-name', text: s.name });
    const hiddenCount = el('span', { class: 'badge wf-hidden-count', hidden: true });
    const label = el('div', { class: 'wf-label', style: { 'padding-left': (0.3 + s.depth * 1.1) + 'em' } },
      toggle, name,
      el('span', { class: 'stage', dataset: { stage: s.stage }, text: s.stage }),
      hiddenCount,
      el('span', { class: 'wf-dur', text: ms(s.duration_ms) }),
      (s.flags || []).map(f => el('span', { class: 'badge span-flag', dataset: { flag: f }, text: flagText[f] || f, title: flagHelp[f] || '' })),
    );
    const track = el('div', { class: 'wf-track wf-track-area' }, bar, barLabel, ttft);
    const r = el('div', {
      class: 'wf-row span-row' + (s.critical ? ' critical' : '') + (s.status === 'error' ? ' error' : ''),
      dataset: { spanId: s.span_id, stage: s.stage, depth: String(s.depth) },
      attrs: { tabindex: '-1', role: 'treeitem', 'aria-level': String(s.depth + 1) },
    }, label, track);
    if (hasKids(i)) {
      toggle.addEventListener('click', (ev) => { ev.stopPropagation(); setCollapsed(i, !collapsed.has(i)); });
    }
    r.addEventListener('click', () => { if (!dragged) select(i, false, true); });
    return { node: r, bar, barLabel, ttft, name, toggle, hiddenCount };
  }

  // place puts every bar on the current time range.
  function place() {
    const [v0, v1] = view;
    const w = v1 - v0;
    spans.forEach((s, i) => {
      const r = rows[i];
      const a = ((s.offset_ms || 0) - v0) / w * 100;
      const b = ((s.offset_ms || 0) + (s.duration_ms || 0) - v0) / w * 100;
      const outside = b < 0 || a > 100;
      r.bar.hidden = outside;
      r.barLabel.hidden = outside;
      if (!outside) {
        const left = Math.max(0, a);
        const width = Math.max(0, Math.min(100, b) - left);
        r.bar.style.left = left + '%';
        r.bar.style.width = width + '%';
        // The duration beside the bar, on whichever side has room.
        // (inside the bar's right end when it fills the track).
        const lb = r.barLabel;
        lb.classList.remove('before', 'inside');
        if (left + width <= 75) { lb.style.right = ''; lb.style.left = (left + width) + '%'; }
        else if (left >= 20) { lb.style.left = ''; lb.style.right = (100 - left) + '%'; lb.classList.add('before'); }
        else { lb.style.left = ''; lb.style.right = (100 - left - width) + '%'; lb.classList.add('inside'); }
      }
      if (r.ttft) {
        const x = ((s.offset_ms || 0) + s.first_token.ttft_ms - v0) / w * 100;
        r.ttft.hidden = x < 0 || x > 100;
        r.ttft.style.left = x + '%';
      }
    });
    axis.replaceChildren(...[0, 1, 2, 3, 4].map(k => el('span', { text: ms(v0 + (w * k) / 4) })));
    const zoomed = v0 > 0 || v1 < total;
    reset.hidden = !zoomed;
    zoomText.textContent = zoomed ? `showing ${ms(v0)} – ${ms(v1)} of ${ms(total)}` : '';
    body.dataset.zoom = zoomed ? `${v0},${v1}` : '';
    mmWindow.style.left = (v0 / total * 100) + '%';
    mmWindow.style.width = ((v1 - v0) / total * 100) + '%';
    mmWindow.classList.toggle('zoomed', zoomed);
    drawPath();
  }

  function setView(a, b, notify = true) {
    if (b - a < minZoomMs) { const c = (a + b) / 2; a = c - minZoomMs / 2; b = c + minZoomMs / 2; }
    view = [Math.max(0, a), Math.min(total, b)];
    place();
    if (notify && opts.onZoom) opts.onZoom(view[0] > 0 || view[1] < total ? view : null);
  }
  reset.addEventListener('click', () => setView(0, total));

  // visible reports whether row i is shown (no folded ancestor).
  function visible(i) {
    for (let p = parent[i]; p >= 0; p = parent[p]) if (collapsed.has(p)) return false;
    return true;
  }
  function shownRow(i) {
    let v = i;
    for (let p = parent[i]; p >= 0; p = parent[p]) if (collapsed.has(p)) v = p;
    return v;
  }

  function applyCollapse() {
    let hideUntil = -1;
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      const hide = i < hideUntil;
      r.node.hidden = hide;
      if (!hide && collapsed.has(i)) hideUntil = Math.max(hideUntil, end[i]);
      const isCollapsed = collapsed.has(i);
      r.node.classList.toggle('collapsed', isCollapsed);
      if (hasKids(i)) {
        r.node.setAttribute('aria-expanded', String(!isCollapsed));
        r.toggle.textContent = isCollapsed ? '▸' : '▾';
      }
      r.hiddenCount.hidden = !isCollapsed;
      r.hiddenCount.textContent = isCollapsed ? '+' + (end[i] - i - 1) : '';
    }
    if (selected >= 0 && !visible(selected)) select(shownRow(selected), false, true);
    drawPath();
  }

  function setCollapsed(i, on) {
    if (!hasKids(i)) return;
    if (on) collapsed.add(i); else collapsed.delete(i);
    applyCollapse();
  }
  collapseAll.addEventListener('click', () => {
    for (let i = 0; i < n; i++) if (hasKids(i) && parent[i] >= 0) collapsed.add(i);
    applyCollapse();
  });
  expandAll.addEventListener('click', () => { collapsed.clear(); applyCollapse(); });

  function expandTo(i) {
    let changed = false;
    for (let p = parent[i]; p >= 0; p = parent[p]) if (collapsed.delete(p)) changed = true;
    if (changed) applyCollapse();
  }

  // select marks row i, shows its details and, with focus, moves the
  // keyboard focus there.
  function select(i, scroll, focus) {
    if (i < 0 || i >= n) return;
    expandTo(i);
    if (selected >= 0) { rows[selected].node.classList.remove('selected'); rows[selected].node.setAttribute('tabindex', '-1'); rows[selected].node.removeAttribute('aria-selected'); }
    selected = i;
    const r = rows[i].node;
    r.classList.add('selected');
    r.setAttribute('tabindex', '0');
    r.setAttribute('aria-selected', 'true');
    if (focus) r.focus({ preventScroll: !scroll });
    if (scroll) r.scrollIntoView({ block: 'center' });
    if (opts.onSelect) opts.onSelect(spans[i]);
  }

  // Keyboard navigation over the shown rows.
  body.addEventListener('keydown', (ev) => {
    if (selected < 0) return;
    const i = selected;
    let to = -1;
    switch (ev.key) {
      case 'ArrowDown': for (let j = i + 1; j < n; j++) if (!rows[j].node.hidden) { to = j; break; } break;
      case 'ArrowUp': for (let j = i - 1; j >= 0; j--) if (!rows[j].node.hidden) { to = j; break; } break;
      case 'ArrowLeft':
        if (hasKids(i) && !collapsed.has(i)) { setCollapsed(i, true); ev.preventDefault(); return; }
        to = parent[i];
        break;
      case 'ArrowRight':
        if (hasKids(i) && collapsed.has(i)) { setCollapsed(i, false); ev.preventDefault(); return; }
        if (hasKids(i)) to = i + 1;
        break;
      case 'Home': to = 0; break;
      case 'End': for (let j = n - 1; j >= 0; j--) if (!rows[j].node.hidden) { to = j; break; } break;
      case 'Enter': case ' ': if (hasKids(i)) setCollapsed(i, !collapsed.has(i)); ev.preventDefault(); return;
      default: return;
    }
    ev.preventDefault();
    if (to >= 0) select(to, false, true);
  });

  // Search: rows whose name, stage, id or attributes hold the text.
  function runSearch() {
    const q = search.value.trim().toLowerCase();
    matches = [];
    matchAt = -1;
    spans.forEach((s, i) => {
      const hit = q !== '' && spanText(s).includes(q);
      if (hit) matches.push(i);
      rows[i].node.classList.toggle('match', hit);
      rows[i].node.classList.toggle('nomatch', q !== '' && !hit);
      highlight(rows[i].name, s.name, q);
    });
    if (q) {
      for (const i of matches) for (let p = parent[i]; p >= 0; p = parent[p]) collapsed.delete(p);
      applyCollapse();
    }
    found.textContent = q ? `${matches.length} of ${n} spans match` : '';
  }
  search.addEventListener('input', runSearch);
  search.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter') return;
    ev.preventDefault();
    if (!matches.length) return;
    matchAt = (matchAt + (ev.shiftKey ? -1 : 1) + matches.length) % matches.length;
    select(matches[matchAt], true, false);
    found.textContent = `${matchAt + 1} / ${matches.length} (of ${n} spans)`;
  });

  // The critical path: one line through the shown rows, horizontal while
  // the trace waits for a span, vertical where the wait moves to another.
  function drawPath() {
    if (!body.isConnected) return;
    const box = body.getBoundingClientRect();
    const tr = axis.getBoundingClientRect();
    cpSvg.setAttribute('width', String(box.width));
    cpSvg.setAttribute('height', String(box.height));
    cpSvg.setAttribute('viewBox', `0 0 ${box.width} ${box.height}`);
    const [v0, v1] = view;
    const x = (msAt) => tr.left - box.left + Math.min(1, Math.max(0, (msAt - v0) / (v1 - v0))) * tr.width;
    const mid = new Map();
    const yOf = (i) => {
      if (!mid.has(i)) { const rr = rows[i].node.getBoundingClientRect(); mid.set(i, rr.top - box.top + rr.height / 2); }
      return mid.get(i);
    };
    let d = '';
    const visited = [];
    for (const seg of t.critical_path || []) {
      const a = seg.offset_ms, b = seg.offset_ms + seg.duration_ms;
      if (b < v0 || a > v1) continue;
      const i0 = index.has(seg.span_id) ? index.get(seg.span_id) : 0;
      if (i0 === undefined || !rows[i0]) continue;
      const i = shownRow(i0);
      const y = yOf(i);
      const xa = x(a), xb = x(b);
      d += (d ? ' L' : 'M') + ` ${xa.toFixed(1)} ${y.toFixed(1)} H ${Math.max(xb, xa + 1).toFixed(1)}`;
      if (visited[visited.length - 1] !== spans[i].span_id) visited.push(spans[i].span_id);
    }
    cpPath.setAttribute('d', d);
    cpPath.dataset.spans = visited.join(',');
  }

  // Drag to zoom, on the bars and on the minimap.
  let dragged = false;
  function dragZoom(area, box, toRange) {
    area.addEventListener('mousedown', (ev) => {
      if (ev.button !== 0 || ev.target.closest('.wf-toggle')) return;
      const rect = typeof box === 'function' ? box(ev) : box.getBoundingClientRect();
      if (!rect || (area === body && (ev.clientX < rect.left || ev.clientX > rect.right))) return;
      const sel = area === minimap ? mmSel : selBox;
      const host = (area === minimap ? minimap : body).getBoundingClientRect();
      const x0 = Math.min(rect.right, Math.max(rect.left, ev.clientX));
      dragged = false;
      const move = (e) => {
        const x1 = Math.min(rect.right, Math.max(rect.left, e.clientX));
        if (Math.abs(x1 - x0) > 4) dragged = true;
        sel.hidden = !dragged;
        sel.style.left = (Math.min(x0, x1) - host.left) + 'px';
        sel.style.width = Math.abs(x1 - x0) + 'px';
      };
      const up = (e) => {
        window.removeEventListener('mousemove', move);
        window.removeEventListener('mouseup', up);
        sel.hidden = true;
        const x1 = Math.min(rect.right, Math.max(rect.left, e.clientX));
        if (dragged) {
          const f0 = (Math.min(x0, x1) - rect.left) / rect.width, f1 = (Math.max(x0, x1) - rect.left) / rect.width;
          const [a, b] = toRange(f0, f1);
          setView(a, b);
        }
        // The click that ends a drag must not select a row.
        setTimeout(() => { dragged = false; }, 0);
      };
      window.addEventListener('mousemove', move);
      window.addEventListener('mouseup', up);
      ev.preventDefault();
    });
  }
  dragZoom(body, () => axis.getBoundingClientRect(), (f0, f1) => {
    const [v0, v1] = view;
    return [v0 + f0 * (v1 - v0), v0 + f1 * (v1 - v0)];
  });
  dragZoom(minimap, mmCanvas, (f0, f1) => [f0 * total, f1 * total]);

  function drawMinimap() {
    const w = Math.max(100, Math.round(minimap.clientWidth || 600));
    const h = Math.max(24, Math.min(64, n * 3));
    const dpr = window.devicePixelRatio || 1;
    mmCanvas.width = w * dpr;
    mmCanvas.height = h * dpr;
    mmCanvas.style.height = h + 'px';
    const g = mmCanvas.getContext('2d');
    if (!g) return;
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, h);
    const lh = Math.max(1, h / Math.max(n, 1));
    spans.forEach((s, i) => {
      g.fillStyle = stageColor(s.stage);
      const a = (s.offset_ms || 0) / total * w;
      g.fillRect(a, i * h / n, Math.max(1, (s.duration_ms || 0) / total * w), Math.max(1, lh - (lh > 2 ? 1 : 0)));
    });
  }

  const ro = new ResizeObserver(() => { drawMinimap(); drawPath(); });
  requestAnimationFrame(() => { if (body.isConnected) { ro.observe(body); drawMinimap(); place(); } });

  applyCollapse();
  place();
  return {
    node,
    // select picks a span by id (and its row scrolls into view with scroll).
    select(spanID, scroll) { const i = index.get(spanID); if (i === undefined) return false; select(i, scroll, false); return true; },
    selectRow(i) { select(i, false, false); },
    destroy() { ro.disconnect(); },
  };
}

// spanText is what a span search looks in, lower-cased.
function spanText(s) {
  const parts = [s.name, s.stage, s.span_id, s.status, s.error || ''];
  for (const a of s.attrs || []) parts.push(a.k, Array.isArray(a.v) ? a.v.join(' ') : String(a.v));
  for (const e of s.events || []) parts.push(e.name);
  return parts.join('\n').toLowerCase();
}

// highlight sets node's text to name, with every occurrence of q (already
// lower-case) wrapped in <mark> — built from text nodes, never parsed.
function highlight(node, name, q) {
  const text = String(name);
  if (!q) { if (node.childElementCount) node.textContent = text; return; }
  const low = text.toLowerCase();
  const parts = [];
  let at = 0;
  for (let k = low.indexOf(q); k >= 0 && q; k = low.indexOf(q, k + q.length)) {
    if (k > at) parts.push(document.createTextNode(text.slice(at, k)));
    parts.push(el('mark', { text: text.slice(k, k + q.length) }));
    at = k + q.length;
  }
  if (at < text.length) parts.push(document.createTextNode(text.slice(at)));
  node.replaceChildren(...parts);
}
