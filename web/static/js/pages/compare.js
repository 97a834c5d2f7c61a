// Compare: two windows or two benchmark runs side by side, with per-stage
// deltas, a significance test with an effect-size floor, flagged
// regressions, a typical trace of each side, and the runs' settings that
// differ. Setting names and values come from stored run configs and are only
// ever set as text.

import { el, section, table, message } from '../dom.js';
import { getJSON } from '../api.js';
import { ms, num, shortID } from '../format.js';
import { hashFor, withService } from '../scope.js';

const keys = ['base_from', 'base_to', 'cand_from', 'cand_to', 'base_run', 'cand_run'];

export async function render(view, ctx) {
  const p = {};
  for (const k of keys) p[k] = ctx.params.get(k) || '';
  const mode = ctx.params.get('mode') === 'runs' || p.base_run || p.cand_run ? 'runs' : 'windows';
  if (mode === 'windows' && !p.base_from) {
    // Default: the selected window's first half against its second — both
    // halves hold traces whenever the window does (the window before it
    // is empty on a store younger than the window).
    const w = ctx.window();
    const to = w.to || Date.now();
    const from = w.from || to - 24 * 3600e3;
    const mid = Math.round(from + (to - from) / 2);
    p.base_from = String(from); p.base_to = String(mid - 1);
    p.cand_from = String(mid); p.cand_to = String(to);
  }
  view.appendChild(el('h1', { text: 'Compare' }));
  let runs = [];
  if (mode === 'runs') {
    runs = (await getJSON('/api/runs')).runs || [];
    if (!ctx.alive()) return null;
    if (!p.base_run && runs.length > 1) { p.base_run = runs[1].id; p.cand_run = runs[0].id; }
  }
  view.appendChild(form(ctx, mode, p, runs));

  const q = mode === 'runs' ? { base_run: p.base_run, cand_run: p.cand_run }
    : { base_from: p.base_from, base_to: p.base_to, cand_from: p.cand_from, cand_to: p.cand_to };
  if (mode === 'runs' && (!q.base_run || !q.cand_run)) {
    view.appendChild(message('Pick two runs to compare.'));
    return null;
  }
  const res = await getJSON('/api/compare', withService(q));
  if (!ctx.alive()) return null;
  const cmp = res.comparison || {};
  const b = cmp.baseline || {}, c = cmp.candidate || {};
  view.appendChild(el('div', { class: 'side-by-side' },
    summary('Baseline', b, res.baseline_sample), summary('Candidate', c, res.candidate_sample)));
  if (!b.traces || !c.traces) {
    view.appendChild(message('One side has no traces; widen its window or pick another run.'));
    return null;
  }
  const regs = cmp.regressions || [];
  view.appendChild(el('p', { id: 'compare-verdict', class: regs.length ? 'msg error' : 'msg info',
    text: regs.length ? `Regressed: ${regs.join(', ')}` : 'No stage regressed significantly.' }));
  const rows = [{ ...(cmp.e2e || {}), stage: 'end-to-end' }, ...(cmp.stages || [])];
  const floor = `max(${Math.round((cmp.regression_threshold || 0) * 100)} % of the baseline, ${ms(cmp.min_effect_ms)})`;
  view.appendChild(section('Per-stage self time per trace', el('p', { class: 'muted', id: 'compare-rule',
    text: `A stage regressed or improved when the Mann–Whitney U test is significant (p < ${cmp.significance}) and its p50 or p95 moved by at least ${floor}; a significant change below that is marked "below floor".` }), table([
    { label: 'Stage', value: s => el('span', { class: 'stage', dataset: { stage: s.stage }, text: s.stage }) },
    { label: 'Baseline p50', class: 'num', value: s => ms(s.baseline_p50_ms) },
    { label: 'Candidate p50', class: 'num', value: s => ms(s.candidate_p50_ms) },
    { label: 'Baseline p95', class: 'num', value: s => ms(s.baseline_p95_ms) },
    { label: 'Candidate p95', class: 'num', value: s => ms(s.candidate_p95_ms) },
    { label: 'Mean change', class: 'num change', value: s => s.change_text || '' },
    { label: 'p', class: 'num', value: s => s.test ? s.test.p.toPrecision(2) : '–' },
    { label: 'Verdict', value: s => s.regressed ? el('span', { class: 'badge bad', text: 'regressed' })
      : s.improved ? el('span', { class: 'badge good', text: 'improved' })
      : (s.significant ? el('span', { class: 'muted', title: `moved ${ms(s.effect_ms)}, under the floor of ${ms(s.effect_floor_ms)}`, text: 'below floor' }) : '') },
    { label: 'Typical traces', class: 'typical', value: s => s.exemplars ? [
      el('a', { href: hashFor('trace', s.exemplars.baseline), class: 'mono exemplar base', title: 'a typical baseline trace', text: shortID(s.exemplars.baseline) }),
      ' → ',
      el('a', { href: hashFor('trace', s.exemplars.candidate), class: 'mono exemplar cand', title: 'a typical candidate trace', text: shortID(s.exemplars.candidate) }),
      ' ',
      el('a', { href: hashFor('diff', '', { a: s.exemplars.baseline, b: s.exemplars.candidate }), class: 'exemplar-diff', title: 'the two typical traces stage by stage', text: 'diff' })] : '' },
  ], rows, { class: 'compare-table', rowData: s => ({ stage: s.stage }) })));
  if (cmp.config_compared || cmp.config_error) {
    const diff = cmp.config_diff || [];
    view.appendChild(section('Run settings that differ', el('div', { id: 'config-diff' },
      cmp.config_error ? message(cmp.config_error, 'error')
        : diff.length ? table([
          { label: 'Setting', class: 'mono', value: d => d.key },
          { label: 'Baseline', class: 'mono', value: d => d.baseline === undefined ? '(absent)' : d.baseline },
          { label: 'Candidate', class: 'mono', value: d => d.candidate === undefined ? '(absent)' : d.candidate },
        ], diff, { class: 'config-diff' })
          : message('The two runs have the same configuration.'))));
  }
  const findings = cmp.findings || [];
  if (findings.length) {
    view.appendChild(section('What to do', el('ol', { class: 'findings' }, findings.map(f =>
      el('li', { class: 'finding ' + f.severity },
        el('strong', { text: f.title }), el('p', { text: f.detail }),
        el('p', { class: 'finding-rec' }, el('span', { class: 'rec-label', text: 'What to do: ' }), f.recommendation))))));
  }
  return null;
}

function toLocal(v) {
  if (!v) return '';
  const d = new Date(Number(v));
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocal(v) {
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? '' : String(t);
}

function form(ctx, mode, p, runs) {
  const modeSel = el('select', { name: 'mode' },
    el('option', { value: 'windows', text: 'two windows', selected: mode === 'windows' }),
    el('option', { value: 'runs', text: 'two runs', selected: mode === 'runs' }));
  modeSel.addEventListener('change', () => ctx.go('compare', '', { mode: modeSel.value }));
  const f = el('form', { class: 'filters', id: 'compare-form' }, el('label', null, 'Compare', modeSel));
  if (mode === 'runs') {
    const runSel = (name, value) => el('select', { name },
      el('option', { value: '', text: 'choose a run' }),
      runs.map(r => el('option', { value: r.id, text: r.name || r.id, selected: r.id === value })));
    f.append(el('label', null, 'Baseline run', runSel('base_run', p.base_run)),
      el('label', null, 'Candidate run', runSel('cand_run', p.cand_run)));
  } else {
    const dt = (name) => el('input', { type: 'datetime-local', name, value: toLocal(p[name]) });
    f.append(el('label', null, 'Baseline from', dt('base_from')), el('label', null, 'to', dt('base_to')),
      el('label', null, 'Candidate from', dt('cand_from')), el('label', null, 'to', dt('cand_to')));
  }
  f.append(el('button', { type: 'submit', text: 'Compare' }));
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = { mode };
    if (mode === 'runs') { q.base_run = f.elements.base_run.value; q.cand_run = f.elements.cand_run.value; }
    else for (const k of ['base_from', 'base_to', 'cand_from', 'cand_to']) q[k] = fromLocal(f.elements[k].value);
    ctx.go('compare', '', q);
  });
  return f;
}

function summary(title, r, smp) {
  const e = r.e2e || {};
  return el('section', { class: 'card side', dataset: { side: title.toLowerCase() } },
    el('h2', { text: title }),
    el('dl', { class: 'kv' },
      [el('dt', { text: 'Traces' }), el('dd', { class: 'side-traces', text: num(r.traces || 0) + (smp && smp.sampled ? ' (sample)' : '') })],
      [el('dt', { text: 'p50' }), el('dd', { text: ms(e.p50_ms) })],
      [el('dt', { text: 'p95' }), el('dd', { text: ms(e.p95_ms) })],
      [el('dt', { text: 'p99' }), el('dd', { text: ms(e.p99_ms) })],
      [el('dt', { text: 'Run' }), el('dd', { text: smp && smp.run ? smp.run : '–' })]));
}
