// Thin wrappers over the vendored uPlot (window.uPlot, loaded by index.html).
// Each returns {node, destroy}; charts follow their container's width.

import { el } from './dom.js';
import { ms } from './format.js';

export const stageColors = {
  other: '#9ca3af', pool: '#a78bfa', retry: '#f87171', embed: '#34d399', retrieve: '#60a5fa',
  rerank: '#f59e0b', synth: '#f472b6', llm: '#fb923c', storage: '#94a3b8', query: '#2dd4bf',
  tool: '#c084fc', agent: '#facc15', chain: '#4ade80',
};

export function stageColor(stage) { return stageColors[stage] || '#9ca3af'; }

function mount(title, cls) {
  const plot = el('div', { class: 'chart-plot' });
  const node = el('figure', { class: 'chart ' + (cls || '') }, el('figcaption', { text: title }), plot);
  return { node, plot };
}

function attach(plot, makeOpts, data) {
  let u = null;
  let ro = null;
  const width = () => Math.max(200, plot.clientWidth || plot.parentNode?.clientWidth || 600);
  // Created once the figure is in the document, so its width is known.
  const create = () => {
    if (u || !plot.isConnected) return;
    u = new window.uPlot(makeOpts(width()), data, plot);
    ro = new ResizeObserver(() => { if (u) u.setSize({ width: width(), height: u.height }); });
    ro.observe(plot);
  };
  requestAnimationFrame(create);
  return { create, destroy: () => { if (ro) ro.disconnect(); if (u) u.destroy(); u = null; } };
}

// themeColor reads a colour of the current theme (app.css custom properties).
export function themeColor(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

// axis styles an axis in the colours of the theme (light or dark, as the
// system prefers).
function axis(extra) {
  return { stroke: themeColor('--chart-axis', '#cbd5e1'), grid: { stroke: themeColor('--chart-grid', '#1e293b'), width: 1 }, ticks: { stroke: themeColor('--chart-tick', '#334155'), width: 1 }, ...extra };
}

const axisMs = axis({ values: (u, vals) => vals.map(v => ms(v)), size: 70 });

// timeChart draws lines over time. xs are Unix seconds; series are
// {label, values, color, fill}.
export function timeChart(title, xs, series, opts = {}) {
  const { node, plot } = mount(title, opts.class);
  if (!window.uPlot) { plot.appendChild(el('p', { class: 'msg error', text: 'chart library not loaded' })); return { node, destroy() {} }; }
  const yFmt = opts.yFmt || ((v) => v == null ? '–' : String(v));
  const makeOpts = (w) => ({
    width: w, height: opts.height || 220,
    scales: { x: { time: true } },
    axes: [axis(), opts.yMs ? axisMs : axis({ size: 60 })],
    series: [{}, ...series.map(s => ({
      label: s.label, stroke: s.color, fill: s.fill, width: 1.5,
      points: { show: xs.length < 60 },
      value: (u, v, si, i) => s.display ? s.display(i) : yFmt(v),
    }))],
    bands: opts.bands,
  });
  const h = attach(plot, makeOpts, [xs, ...series.map(s => s.values)]);
  // What is drawn, for the browser tests to compare with the API.
  node.plotData = { xs, series: series.map(s => ({ label: s.label, values: s.values })) };
  return { node, destroy: h.destroy };
}

// stackedChart draws stacked areas: series[i] is drawn on top of series[i-1].
export function stackedChart(title, xs, series, opts = {}) {
  const cum = [];
  let acc = xs.map(() => 0);
  for (const s of series) {
    acc = acc.map((a, i) => a + (s.values[i] || 0));
    cum.push(acc.slice());
  }
  // Top-most first, so lower areas paint over the upper ones' fill.
  const drawn = series.map((s, i) => ({
    label: s.label, color: s.color, fill: s.color + '99', values: cum[i],
    display: (i2) => ms(s.values[i2] || 0),
  })).reverse();
  return timeChart(title, xs, drawn, { ...opts, yMs: true });
}

// pad widens a scale by a tenth of its span on each side.
function pad(u, lo, hi) {
  const d = hi > lo ? (hi - lo) * 0.1 : Math.abs(lo) * 0.1 || 1;
  return [lo - d, hi + d];
}

// scatterChart plots points (x ascending is not required) and an optional
// front line through a subset. points: [{x, y, label}], front: same shape.
export function scatterChart(title, points, front, opts = {}) {
  const { node, plot } = mount(title, opts.class);
  if (!window.uPlot) { plot.appendChild(el('p', { class: 'msg error', text: 'chart library not loaded' })); return { node, destroy() {} }; }
  const all = [...points].sort((a, b) => a.x - b.x);
  const xs = all.map(p => p.x);
  const ys = all.map(p => p.y);
  const onFront = new Set(front.map(p => p.key));
  const fy = all.map(p => onFront.has(p.key) ? p.y : null);
  const makeOpts = (w) => ({
    width: w, height: opts.height || 300,
    // Room around the points for their labels.
    scales: { x: { time: false, range: pad }, y: { range: pad } },
    axes: [axis({ label: opts.xLabel, values: (u, vals) => vals.map(v => ms(v)) }), axis({ label: opts.yLabel, size: 60 })],
    series: [
      { label: opts.xLabel, value: (u, v) => v == null ? '–' : ms(v) },
      { label: 'runs', stroke: '#60a5fa', paths: () => null, points: { show: true, size: 9, fill: '#60a5fa' } },
      { label: 'Pareto front', stroke: '#f59e0b', width: 2, spanGaps: true, points: { show: true, size: 11, fill: '#f59e0b' } },
    ],
    // Each point's label beside it (canvas text, never markup).
    hooks: { draw: [(u) => {
      const g = u.ctx;
      g.save();
      g.fillStyle = themeColor('--text', '#e5e7eb');
      g.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
      all.forEach((p, i) => {
        if (!p.label) return;
        const x = u.valToPos(xs[i], 'x', true), y = u.valToPos(ys[i], 'y', true);
        g.fillText(p.label, x + 7 * devicePixelRatio, y - 5 * devicePixelRatio);
      });
      g.restore();
    }] },
  });
  const h = attach(plot, makeOpts, [xs, ys, fy]);
  return { node, destroy: h.destroy };
}

// durationScatter plots traces as points, start time (Unix seconds) across
// and duration (ms) up, failed ones in red. Dragging a box calls
// onBox({from, to, minMs, maxMs}) with the box's times in Unix ms.
export function durationScatter(points, onBox) {
  const { node, plot } = mount('Trace duration over time', 'scatter');
  node.id = 'duration-scatter';
  if (!window.uPlot) { plot.appendChild(el('p', { class: 'msg error', text: 'chart library not loaded' })); return { node, destroy() {} }; }
  const all = [...points].sort((a, b) => a.x - b.x);
  const xs = all.map(p => p.x);
  const ok = all.map(p => p.error ? null : p.y);
  const bad = all.map(p => p.error ? p.y : null);
  const good = themeColor('--accent', '#60a5fa');
  const makeOpts = (w) => ({
    width: w, height: 220,
    scales: { x: { time: true, range: (u, lo, hi) => lo === hi ? [lo - 60, hi + 60] : [lo - (hi - lo) * 0.02, hi + (hi - lo) * 0.02] },
      y: { range: (u, lo, hi) => [0, (hi || 1) * 1.08] } },
    axes: [axis(), axisMs],
    legend: { show: false },
    cursor: { drag: { x: true, y: true, uni: 8, setScale: false }, points: { show: false } },
    series: [{},
      { label: 'ok', stroke: good, paths: () => null, points: { show: true, size: 6, fill: good, stroke: good } },
      { label: 'failed', stroke: '#ef4444', paths: () => null, points: { show: true, size: 7, fill: '#ef4444', stroke: '#ef4444' } }],
    hooks: {
      setSelect: [(u) => {
        const s = u.select;
        if (s.width < 4 || s.height < 4) return;
        const from = u.posToVal(s.left, 'x') * 1000, to = u.posToVal(s.left + s.width, 'x') * 1000;
        const maxMs = u.posToVal(s.top, 'y'), minMs = u.posToVal(s.top + s.height, 'y');
        onBox({ from, to, minMs: Math.max(0, minMs), maxMs });
      }],
    },
  });
  const h = attach(plot, makeOpts, [xs, ok, bad]);
  return { node, destroy: h.destroy };
}
