// The model-call view of a span: its prompt and response, or its chat
// messages, in whichever convention the pipeline wrote them (OpenInference
// input.value / output.value and llm.input_messages.N.message.*, OTel GenAI
// gen_ai.prompt.N.* attributes and gen_ai.*.message / gen_ai.choice events,
// the Vercel AI SDK's ai.prompt and ai.response.text), with the model,
// tokens, cost and time to first token. Every message is set as text: a
// prompt that holds markup shows the markup.

import { el } from './dom.js';
import { ms, num, usd, attrValue } from './format.js';

// messagesOf reads a span's messages: {input: [{role, text}], output: [...]}.
export function messagesOf(s) {
  const attrs = new Map((s.attrs || []).map(a => [a.k, attrValue(a)]));
  const input = [], output = [];
  const indexed = (prefix, re) => {
    const byIdx = new Map();
    for (const [k, v] of attrs) {
      if (!k.startsWith(prefix)) continue;
      const m = re.exec(k.slice(prefix.length));
      if (!m) continue;
      const i = Number(m[1]);
      if (!byIdx.has(i)) byIdx.set(i, { role: '', parts: [] });
      const msg = byIdx.get(i);
      if (m[2] === 'role') msg.role = v; else msg.parts.push(v);
    }
    return [...byIdx.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => ({ role: m.role, text: m.parts.join('\n') }))
      .filter(m => m.text !== '');
  };
  // OpenInference chat messages.
  const oiRe = /^(\d+)\.message\.(role|content|contents\.\d+\.message_content\.text)$/;
  input.push(...indexed('llm.input_messages.', oiRe));
  output.push(...indexed('llm.output_messages.', oiRe));
  // OTel GenAI, indexed attributes (the older convention).
  const gaRe = /^(\d+)\.(role|content)$/;
  input.push(...indexed('gen_ai.prompt.', gaRe));
  output.push(...indexed('gen_ai.completion.', gaRe));
  // Whole prompt and response, as one attribute.
  const whole = (key, into, role) => { const v = attrs.get(key); if (v) into.push(...jsonMessages(v, role)); };
  if (!input.length) {
    whole('gen_ai.input.messages', input, 'user');
    whole('gen_ai.prompt', input, 'prompt');
    whole('ai.prompt.messages', input, 'user');
    if (!input.length) whole('ai.prompt', input, 'prompt');
    if (!input.length) whole('input.value', input, 'input');
  }
  if (!output.length) {
    whole('gen_ai.output.messages', output, 'assistant');
    whole('gen_ai.completion', output, 'completion');
    whole('ai.response.text', output, 'response');
    if (!output.length) whole('ai.response.object', output, 'response');
    if (!output.length) whole('output.value', output, 'output');
  }
  // OTel GenAI events.
  for (const e of s.events || []) {
    const ea = new Map((e.attrs || []).map(a => [a.k, attrValue(a)]));
    const m = /^gen_ai\.(system|user|assistant|tool)\.message$/.exec(e.name);
    if (m) { input.push(...jsonMessages(ea.get('content') || ea.get('gen_ai.event.content') || '', m[1])); continue; }
    if (e.name === 'gen_ai.choice') { output.push(...jsonMessages(ea.get('message') || ea.get('content') || ea.get('gen_ai.event.content') || '', 'assistant')); continue; }
    if (e.name === 'gen_ai.content.prompt' && ea.get('gen_ai.prompt')) input.push(...jsonMessages(ea.get('gen_ai.prompt'), 'prompt'));
    if (e.name === 'gen_ai.content.completion' && ea.get('gen_ai.completion')) output.push(...jsonMessages(ea.get('gen_ai.completion'), 'completion'));
  }
  return { input, output };
}

// jsonMessages reads a text that may be a JSON list of chat messages (or
// one message, or {system, prompt, messages}); anything else is one
// message of the given role.
function jsonMessages(text, role) {
  const s = String(text);
  if (s === '') return [];
  const t = s.trim();
  if (t.startsWith('[') || t.startsWith('{')) {
    try {
      const v = JSON.parse(t);
      const out = [];
      const add = (m) => {
        if (m && typeof m === 'object' && ('content' in m || 'parts' in m || 'text' in m)) {
          out.push({ role: String(m.role || role), text: contentText(m.content ?? m.parts ?? m.text) });
          return true;
        }
        return false;
      };
      if (Array.isArray(v)) {
        if (v.every(m => add(m))) return out;
      } else if (v && typeof v === 'object') {
        if (typeof v.system === 'string') out.push({ role: 'system', text: v.system });
        if (typeof v.prompt === 'string') out.push({ role: 'user', text: v.prompt });
        if (Array.isArray(v.messages)) v.messages.forEach(m => add(m));
        if (out.length) return out;
        if (add(v)) return out;
      }
    } catch (_) { /* not JSON: shown as it is */ }
  }
  return [{ role, text: s }];
}

// contentText flattens a message content: a string, or a list of parts.
function contentText(c) {
  if (c === null || c === undefined) return '';
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map(p => typeof p === 'string' ? p : (p && (p.text ?? p.content)) ?? JSON.stringify(p)).join('\n');
  if (typeof c === 'object' && typeof c.text === 'string') return c.text;
  return JSON.stringify(c);
}

// isModelCall reports whether a span deserves the model-call view.
export function isModelCall(s, msgs) {
  return s.stage === 'llm' || !!s.tokens?.completion || !!s.first_token || msgs.input.length > 0 || msgs.output.length > 0;
}

// llmView returns the model-call view of span s, or null for other spans.
export function llmView(s) {
  const msgs = messagesOf(s);
  if (!isModelCall(s, msgs)) return null;
  const tk = s.tokens || {};
  const facts = [];
  const fact = (k, v, key) => facts.push(el('span', { class: 'llm-fact', dataset: { fact: key } }, el('span', { class: 'meta-label', text: k }), el('span', { text: v })));
  if (tk.model) fact('Model', tk.model, 'model');
  if (s.tokens) {
    fact('Prompt tokens', num(tk.prompt || 0), 'prompt');
    fact('Completion tokens', num(tk.completion || 0), 'completion');
  }
  if (typeof tk.cost_usd === 'number') fact('Cost', usd(tk.cost_usd), 'cost');
  else if (s.tokens && tk.model) fact('Cost', 'no price for this model', 'cost');
  if (s.first_token) fact('Time to first token', ms(s.first_token.ttft_ms), 'ttft');
  fact('Duration', ms(s.duration_ms), 'duration');
  const list = (title, ms2, cls) => ms2.length ? [el('h3', { text: title }), el('div', { class: 'chat ' + cls },
    ms2.map(m => el('div', { class: 'chat-msg', dataset: { role: m.role || 'message' } },
      el('div', { class: 'chat-role', text: m.role || 'message' }),
      el('pre', { class: 'chat-text', text: m.text }))))] : null;
  return el('section', { class: 'llm-view', id: 'llm-view' },
    el('h3', { text: 'Model call' }),
    el('div', { class: 'llm-facts' }, facts),
    list('Input', msgs.input, 'chat-input'),
    list('Output', msgs.output, 'chat-output'),
    !msgs.input.length && !msgs.output.length ? el('p', { class: 'muted', text: 'The span carries no prompt or response text.' }) : null,
  );
}
