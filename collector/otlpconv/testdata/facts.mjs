// The facts every fixture folder's expected.json holds, computed from the
// recorded request bodies (request-*.json, and request-*.pb when present).
// Each folder's facts.mjs names what its program planted and where its token
// counts live, and calls writeFacts. It imports nothing outside Node, so it
// runs without node_modules:  node <folder>/facts.mjs
import fs from 'node:fs';
import path from 'node:path';

// DIR is the fixture folder and SET its description, for the run under way.
let DIR = '';
let SET = {};
const KIND = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const STATUS = ['UNSET', 'OK', 'ERROR'];

// ---- OTLP/JSON ----
function anyJSON(v) {
  if (v == null) return null;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return (v.arrayValue.values ?? []).map(anyJSON);
  if ('kvlistValue' in v) return Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, anyJSON(kv.value)]));
  if ('bytesValue' in v) return v.bytesValue;
  return null;
}
const attrsJSON = (list) => Object.fromEntries((list ?? []).map((kv) => [kv.key, anyJSON(kv.value)]));
function spansFromJSON(body) {
  const out = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = attrsJSON(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || '',
          name: s.name, kind: Number(s.kind ?? 0),
          start: BigInt(s.startTimeUnixNano), end: BigInt(s.endTimeUnixNano),
          attributes: attrsJSON(s.attributes),
          events: (s.events ?? []).map((e) => ({ name: e.name, time: BigInt(e.timeUnixNano), attributes: attrsJSON(e.attributes) })),
          links: (s.links ?? []).length,
          status: { code: Number(s.status?.code ?? 0), message: s.status?.message ?? '' },
          scope: `${ss.scope?.name ?? ''}@${ss.scope?.version ?? ''}`, resource, file: FILE,
        });
      }
    }
  }
  return out;
}

// ---- OTLP/protobuf (ExportTraceServiceRequest), a minimal reader ----
function fields(buf) {
  const out = [];
  let i = 0;
  const varint = () => {
    let x = 0n, shift = 0n;
    for (;;) { const b = buf[i++]; x |= BigInt(b & 0x7f) << shift; if (!(b & 0x80)) return x; shift += 7n; }
  };
  while (i < buf.length) {
    const key = Number(varint()), no = key >> 3, wt = key & 7;
    if (wt === 0) out.push([no, varint()]);
    else if (wt === 1) { out.push([no, buf.readBigUInt64LE(i)]); i += 8; }
    else if (wt === 2) { const len = Number(varint()); out.push([no, buf.subarray(i, i + len)]); i += len; }
    else if (wt === 5) { out.push([no, buf.readUInt32LE(i)]); i += 4; }
    else throw new Error(`unsupported wire type ${wt}`);
  }
  return out;
}
const str = (b) => Buffer.from(b).toString('utf8');
const hex = (b) => Buffer.from(b).toString('hex');
function anyPB(buf) {
  for (const [no, v] of fields(buf)) {
    if (no === 1) return str(v);
    if (no === 2) return v !== 0n;
    if (no === 3) return Number(BigInt.asIntN(64, v));
    if (no === 4) return Buffer.from(new BigUint64Array([v]).buffer).readDoubleLE(0);
    if (no === 5) return fields(v).filter(([n]) => n === 1).map(([, x]) => anyPB(x));
    if (no === 6) return attrsPB(fields(v).filter(([n]) => n === 1).map(([, x]) => x));
    if (no === 7) return Buffer.from(v).toString('base64');
  }
  return null;
}
function attrsPB(kvs) {
  const o = {};
  for (const kv of kvs) {
    let k = '', val = null;
    for (const [no, v] of fields(kv)) { if (no === 1) k = str(v); if (no === 2) val = anyPB(v); }
    o[k] = val;
  }
  return o;
}
function spansFromPB(buf) {
  const out = [];
  for (const [no, rsb] of fields(buf)) {
    if (no !== 1) continue;
    let resource = {};
    const scopeSpans = [];
    for (const [n, v] of fields(rsb)) {
      if (n === 1) resource = attrsPB(fields(v).filter(([m]) => m === 1).map(([, x]) => x));
      if (n === 2) scopeSpans.push(v);
    }
    for (const ssb of scopeSpans) {
      let scope = '@';
      const spans = [];
      for (const [n, v] of fields(ssb)) {
        if (n === 1) { const f = fields(v); scope = `${str(f.find(([m]) => m === 1)?.[1] ?? [])}@${str(f.find(([m]) => m === 2)?.[1] ?? [])}`; }
        if (n === 2) spans.push(v);
      }
      for (const sb of spans) {
        const s = { traceId: '', spanId: '', parentSpanId: '', name: '', kind: 0, start: 0n, end: 0n, attributes: {}, events: [], links: 0, status: { code: 0, message: '' }, scope, resource, file: FILE };
        const attrs = [];
        for (const [n, v] of fields(sb)) {
          if (n === 1) s.traceId = hex(v);
          else if (n === 2) s.spanId = hex(v);
          else if (n === 4) s.parentSpanId = hex(v);
          else if (n === 5) s.name = str(v);
          else if (n === 6) s.kind = Number(v);
          else if (n === 7) s.start = v;
          else if (n === 8) s.end = v;
          else if (n === 9) attrs.push(v);
          else if (n === 11) {
            const e = { name: '', time: 0n, attributes: {} }; const ea = [];
            for (const [m, x] of fields(v)) { if (m === 1) e.time = x; if (m === 2) e.name = str(x); if (m === 3) ea.push(x); }
            e.attributes = attrsPB(ea); s.events.push(e);
          } else if (n === 13) s.links++;
          else if (n === 15) for (const [m, x] of fields(v)) { if (m === 2) s.status.message = str(x); if (m === 3) s.status.code = Number(x); }
        }
        s.attributes = attrsPB(attrs);
        out.push(s);
      }
    }
  }
  return out;
}

// ---- facts ----
const inc = (o, k, by = 1) => { o[k] = (o[k] ?? 0) + by; };
const ms = (ns) => Number(ns) / 1e6;
const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const sortKeys = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

function facts(spans, requests) {
  const f = {};
  const services = [...new Set(spans.map((s) => s.resource['service.name']))];
  f.service = services.length === 1 ? services[0] : services;
  f.resource = spans[0]?.resource ?? {};
  f.scopes = [...new Set(spans.map((s) => s.scope))].sort();
  f.requests = requests;
  const byTrace = new Map();
  for (const s of spans) { if (!byTrace.has(s.traceId)) byTrace.set(s.traceId, []); byTrace.get(s.traceId).push(s); }
  f.traces = byTrace.size;
  f.spans = spans.length;
  f.spans_by_request = {}; for (const s of spans) inc(f.spans_by_request, s.file);
  f.traces_split_across_requests = [...byTrace.values()].filter((t) => new Set(t.map((s) => s.file)).size > 1).length;
  // the SDK exports spans as they end, so a child comes before its parent
  let childFirst = 0;
  const pos = new Map(spans.map((s, i) => [s.spanId, i]));
  for (const [i, s] of spans.entries()) if (s.parentSpanId && pos.has(s.parentSpanId) && pos.get(s.parentSpanId) > i) childFirst++;
  f.children_exported_before_parent = childFirst;
  const ids = new Set(spans.map((s) => s.spanId));
  const roots = spans.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
  f.root_spans_by_name = {}; for (const r of roots) inc(f.root_spans_by_name, r.name);
  f.roots_without_parent_id = roots.every((r) => !r.parentSpanId);
  f.spans_by_name = {}; for (const s of spans) inc(f.spans_by_name, s.name);
  f.kinds_by_name = {};
  for (const s of spans) { const k = KIND[s.kind]; const cur = f.kinds_by_name[s.name]; f.kinds_by_name[s.name] = cur == null || cur === k ? k : [...new Set([].concat(cur, k))].join('|'); }
  f.status_by_name = {};
  for (const s of spans) { f.status_by_name[s.name] ??= {}; inc(f.status_by_name[s.name], STATUS[s.status.code]); }
  const errors = spans.filter((s) => s.status.code === 2);
  f.error_spans = errors.length;
  f.error_spans_by_name = {}; for (const s of errors) inc(f.error_spans_by_name, s.name);
  f.error_traces = new Set(errors.map((s) => s.traceId)).size;
  f.error_messages = [...new Set(errors.map((s) => s.status.message.split('\n')[0]))].sort();
  f.events_by_name = {}; for (const s of spans) for (const e of s.events) inc(f.events_by_name, e.name);
  f.exception_event_attributes = [...new Set(spans.flatMap((s) => s.events.filter((e) => e.name === 'exception').flatMap((e) => Object.keys(e.attributes))))].sort();
  f.error_spans_with_exception_event = errors.filter((s) => s.events.some((e) => e.name === 'exception')).length;

  const byAttr = (key) => { const o = {}; for (const s of spans) if (s.attributes[key] != null) { const cur = o[s.name]; const v = s.attributes[key]; o[s.name] = cur == null || cur === v ? v : [...new Set([].concat(cur, v))].join('|'); } return o; };
  const oi = byAttr('openinference.span.kind'); if (Object.keys(oi).length) f.openinference_kind_by_name = sortKeys(oi);
  const op = byAttr('gen_ai.operation.name'); if (Object.keys(op).length) f.gen_ai_operation_by_name = sortKeys(op);
  const aiop = byAttr('ai.operationId'); if (Object.keys(aiop).length) f.ai_operation_id_by_name = sortKeys(aiop);
  const lft = byAttr('langfuse.observation.type'); if (Object.keys(lft).length) f.langfuse_type_by_name = sortKeys(lft);
  const tlk = byAttr('traceloop.span.kind'); if (Object.keys(tlk).length) f.traceloop_kind_by_name = sortKeys(tlk);

  // every integer attribute whose key mentions tokens, summed per span name
  f.token_attributes = {};
  for (const s of spans) for (const [k, v] of Object.entries(s.attributes)) {
    if (/token/i.test(k) && typeof v === 'number' && Number.isInteger(v)) { f.token_attributes[k] ??= {}; inc(f.token_attributes[k], s.name, v); }
  }
  f.token_attributes = sortKeys(Object.fromEntries(Object.entries(f.token_attributes).map(([k, o]) => [k, sortKeys(o)])));
  f.tokens = {};
  for (const [what, { key, json, names }] of Object.entries(SET.tokens)) {
    // json: the count is that field of a JSON object the attribute holds
    const count = (s) => {
      let v = s.attributes[key];
      if (json) { try { v = JSON.parse(v)?.[json]; } catch { v = undefined; } }
      return typeof v === 'number' ? v : 0;
    };
    f.tokens[what] = spans.filter((s) => !names || names.includes(s.name)).reduce((a, s) => a + count(s), 0);
  }
  f.tokens_from = SET.tokens;

  // numeric attributes this set asks for, summarised per span name
  if (SET.attribute_stats) {
    f.attribute_stats = {};
    for (const key of SET.attribute_stats) {
      const per = {};
      for (const s of spans) if (typeof s.attributes[key] === 'number') (per[s.name] ??= []).push(s.attributes[key]);
      f.attribute_stats[key] = sortKeys(Object.fromEntries(Object.entries(per).map(([n, v]) => [n, { spans: v.length, min: round(Math.min(...v)), median: round(median(v)), max: round(Math.max(...v)) }])));
    }
  }

  // durations
  const durs = {};
  for (const s of spans) (durs[s.name] ??= []).push(ms(s.end - s.start));
  f.duration_ms_by_name = sortKeys(Object.fromEntries(Object.entries(durs).map(([n, d]) => [n, { min: round(Math.min(...d)), median: round(median(d)), max: round(Math.max(...d)), total: round(d.reduce((a, b) => a + b, 0)) }])));
  f.planted_ms = SET.planted_ms;
  const children = new Map();
  for (const s of spans) if (s.parentSpanId && ids.has(s.parentSpanId)) { if (!children.has(s.parentSpanId)) children.set(s.parentSpanId, []); children.get(s.parentSpanId).push(s); }
  const leafTotal = {};
  for (const s of spans) if (!children.has(s.spanId)) inc(leafTotal, s.name, ms(s.end - s.start));
  f.leaf_total_ms_by_name = sortKeys(Object.fromEntries(Object.entries(leafTotal).map(([k, v]) => [k, round(v, 1)])));
  f.largest_leaf_stage = Object.entries(leafTotal).sort((a, b) => b[1] - a[1])[0]?.[0];
  // the order of a root's direct children, as most traces show it
  const orders = {};
  for (const r of roots) {
    const seq = (children.get(r.spanId) ?? []).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)).map((c) => c.name).join(' > ');
    orders[r.name] ??= {}; inc(orders[r.name], seq);
  }
  f.root_children_order = sortKeys(Object.fromEntries(Object.entries(orders).map(([n, o]) => [n, Object.entries(o).sort((a, b) => b[1] - a[1])[0][0]])));

  // timestamp resolution
  const wholeMs = (t) => t % 1000000n === 0n;
  f.timestamps = {
    start_whole_ms: spans.filter((s) => wholeMs(s.start)).length,
    end_whole_ms: spans.filter((s) => wholeMs(s.end)).length,
    event_whole_ms: spans.flatMap((s) => s.events).filter((e) => wholeMs(e.time)).length,
    events: spans.flatMap((s) => s.events).length,
    of_spans: spans.length,
  };
  // consecutive siblings (same parent, by start time): does the next start before the previous ends?
  let pairs = 0, overlapping = 0, small = 0, maxSmall = 0n, large = 0;
  const largeByPair = {};
  for (const kids of children.values()) {
    const k = [...kids].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (let i = 1; i < k.length; i++) {
      pairs++;
      const ov = k[i - 1].end - k[i].start;
      if (ov > 0n) {
        overlapping++;
        if (ov <= 1000000n) { small++; if (ov > maxSmall) maxSmall = ov; } else { large++; inc(largeByPair, `${k[i - 1].name} / ${k[i].name}`); }
      }
    }
  }
  f.sibling_overlaps = { consecutive_pairs: pairs, overlapping, up_to_1ms: small, max_up_to_1ms_us: round(Number(maxSmall) / 1000, 3), over_1ms: large, over_1ms_by_pair: sortKeys(largeByPair) };
  let startsBefore = 0, endsAfter = 0, maxEndAfter = 0n, endsAfterOver1ms = 0;
  const overByPair = {};
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  for (const s of spans) {
    const p = byId.get(s.parentSpanId); if (!p) continue;
    if (s.start < p.start) startsBefore++;
    if (s.end > p.end) {
      endsAfter++;
      if (s.end - p.end > maxEndAfter) maxEndAfter = s.end - p.end;
      if (s.end - p.end > 1000000n) { endsAfterOver1ms++; inc(overByPair, `${s.name} in ${p.name}`); }
    }
  }
  f.children_outside_parent = {
    start_before_parent_start: startsBefore, end_after_parent_end: endsAfter, max_end_after_us: round(Number(maxEndAfter) / 1000, 3),
    end_after_parent_end_over_1ms: endsAfterOver1ms, over_1ms_by_pair: sortKeys(overByPair),
  };
  return f;
}

let FILE = '';
function readAll(ext, parse) {
  const files = fs.readdirSync(DIR).filter((f) => new RegExp(`^request-\\d+\\.${ext}$`).test(f)).sort();
  return { files, spans: files.flatMap((f) => { FILE = f; return parse(fs.readFileSync(path.join(DIR, f))); }) };
}
// writeFacts computes the facts of the folder dir, described by set, and
// writes them to dir/expected.json.
export function writeFacts(dir, set) {
  DIR = dir;
  SET = set;
  const json = readAll('json', (b) => spansFromJSON(JSON.parse(b.toString('utf8'))));
  const out = { generated_by: 'facts.mjs', request_files: json.files, ...facts(json.spans, json.files.length) };

  // the versions that recorded the fixtures, as package-lock.json pins them
  try {
    const lock = JSON.parse(fs.readFileSync(path.join(DIR, 'package-lock.json'), 'utf8'));
    out.versions = Object.fromEntries(SET.packages.map((p) => [p, lock.packages?.[`node_modules/${p}`]?.version ?? null]));
  } catch { /* no lock file */ }

  const pb = readAll('pb', spansFromPB);
  if (pb.files.length) {
    const key = (s) => JSON.stringify([s.traceId, s.spanId, s.parentSpanId, s.name, s.kind, String(s.start), String(s.end), s.status, s.attributes, s.events.map((e) => [e.name, String(e.time), e.attributes]), s.links, s.scope, s.resource]);
    const a = new Set(json.spans.map(key)), b = new Set(pb.spans.map(key));
    out.protobuf = {
      request_files: pb.files,
      requests: pb.files.length,
      spans: pb.spans.length,
      same_spans_as_json: a.size === b.size && [...a].every((k) => b.has(k)),
    };
  }
  fs.writeFileSync(path.join(DIR, 'expected.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`expected.json: ${out.traces} traces, ${out.spans} spans, ${out.error_spans} error spans${out.protobuf ? `, protobuf same as JSON: ${out.protobuf.same_spans_as_json}` : ''}`);
}
