// A Node.js pipeline that keeps its last spans in memory, as stagescope's
// Go flight recorder does, and sends them to a running `stagescope serve`
// when it receives SIGUSR2 (SIGUSR1 is Node's debugger signal): "attach"
// for a program that is not written in Go.
//
//   STAGESCOPE_URL=http://127.0.0.1:7318 node pipeline.js
//   kill -USR2 <pid>        # the last spans appear in the dashboard
//
// Environment: STAGESCOPE_URL (serve; default http://127.0.0.1:7318),
// STAGESCOPE_TOKEN (its bearer token, if any), RING (spans kept, default
// 10000), QUERIES (stop after this many queries; default: run until
// SIGTERM). It prints "ready <pid>" once the pipeline runs and
// "flushed <n>" after each flush.
'use strict';

const { trace, context, SpanStatusCode } = require('@opentelemetry/api');
const { TracerProvider } = require('@opentelemetry/sdk-trace');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');

// RingSpanProcessor keeps the last `size` finished spans; a span costs one
// array store. flush() sends them with the exporter and empties the ring.
class RingSpanProcessor {
  constructor(exporter, size) {
    this.exporter = exporter;
    this.ring = new Array(size);
    this.next = 0;
    this.count = 0;
  }
  onStart() {}
  onEnd(span) {
    this.ring[this.next] = span;
    this.next = (this.next + 1) % this.ring.length;
    this.count = Math.min(this.count + 1, this.ring.length);
  }
  take() {
    const n = this.count, size = this.ring.length;
    const out = [];
    for (let i = 0; i < n; i++) out.push(this.ring[(this.next - n + i + size) % size]);
    this.ring = new Array(size);
    this.next = 0;
    this.count = 0;
    return out;
  }
  flush() {
    const spans = this.take();
    return new Promise((resolve, reject) => {
      if (spans.length === 0) return resolve(0);
      this.exporter.export(spans, (res) => (res.code === 0 ? resolve(spans.length) : reject(res.error || new Error('export failed'))));
    });
  }
  forceFlush() { return Promise.resolve(); }
  shutdown() { return this.exporter.shutdown(); }
}

const base = (process.env.STAGESCOPE_URL || 'http://127.0.0.1:7318').replace(/\/$/, '');
const headers = process.env.STAGESCOPE_TOKEN ? { Authorization: 'Bearer ' + process.env.STAGESCOPE_TOKEN } : {};
const ring = new RingSpanProcessor(new OTLPTraceExporter({ url: base + '/v1/traces', headers }), Number(process.env.RING || 10000));
const provider = new TracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'node-rag' }),
  spanProcessors: [ring],
});
const tracer = provider.getTracer('node-rag');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One query: retrieve → rerank → llm, with the OpenInference span kinds
// stagescope maps to its stages.
async function query(i) {
  await tracer.startActiveSpan('query', { attributes: { 'openinference.span.kind': 'CHAIN' } }, async (root) => {
    const ctx = trace.setSpan(context.active(), root);
    for (const [name, kind, ms] of [['retrieve', 'RETRIEVER', 2], ['rerank', 'RERANKER', 1], ['chat', 'LLM', 5]]) {
      const s = tracer.startSpan(name, { attributes: { 'openinference.span.kind': kind } }, ctx);
      await sleep(ms);
      if (kind === 'LLM' && i % 10 === 9) s.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited' });
      s.end();
    }
    root.end();
  });
}

let flushing = Promise.resolve();
process.on('SIGUSR2', () => {
  flushing = flushing.then(() => ring.flush()).then((n) => console.log('flushed ' + n), (err) => console.error('flush failed: ' + err.message));
});
let stopping = false;
process.on('SIGTERM', () => { stopping = true; });

(async () => {
  console.log('ready ' + process.pid);
  const limit = Number(process.env.QUERIES || 0);
  for (let i = 0; !stopping && (limit === 0 || i < limit); i++) await query(i);
  if (limit > 0) console.log('done ' + limit);
  // After QUERIES the program idles until SIGTERM, so it can still be flushed.
  while (!stopping) await sleep(50);
  await flushing;
  await provider.shutdown();
})();
