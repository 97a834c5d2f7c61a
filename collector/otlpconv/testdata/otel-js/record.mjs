// Records the OTLP/HTTP request bodies that the plain OpenTelemetry JS SDK
// sends for a hand-instrumented RAG-like request: query (SERVER) ->
// retrieve (INTERNAL, ~60 ms) -> llm (CLIENT, ~50 ms, gen_ai.* attributes).
// One provider exports every span twice: as OTLP/JSON (exporter-trace-otlp-http)
// and as OTLP/protobuf (exporter-trace-otlp-proto), to a sink on 127.0.0.1
// that writes each body verbatim: request-NNN.json and request-NNN.pb.
//
//   npm ci && node record.mjs [outdir]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { trace, context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { NodeTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as JSONExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';

const OUT = path.resolve(process.argv[2] ?? path.dirname(new URL(import.meta.url).pathname));
const TRACES = 20;
const FAIL_AT = new Set([13]); // the retriever throws for this request
const RETRIEVE_MS = 60;
const LLM_MS = 50;

// ---- the sink: writes every request body verbatim ----
for (const f of fs.readdirSync(OUT)) if (/^request-\d+\.(json|pb)$/.test(f)) fs.unlinkSync(path.join(OUT, f));
const counters = { json: 0, pb: 0 };
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const ct = req.headers['content-type'] ?? '';
    const ext = ct.includes('protobuf') ? 'pb' : 'json';
    const n = ++counters[ext];
    fs.writeFileSync(path.join(OUT, `request-${String(n).padStart(3, '0')}.${ext}`), Buffer.concat(chunks));
    res.writeHead(200, { 'content-type': ct || 'application/json' });
    res.end(ext === 'json' ? '{}' : '');
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/v1/traces`;

// ---- the SDK ----
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({
    'service.name': 'otel-js-rag',
    'service.version': '1.4.2',
    'deployment.environment': 'test',
    'host.name': 'fixture-host',
  }),
  spanProcessors: [
    new BatchSpanProcessor(new JSONExporter({ url: base }), { scheduledDelayMillis: 500, maxExportBatchSize: 64 }),
    new BatchSpanProcessor(new ProtoExporter({ url: base }), { scheduledDelayMillis: 500, maxExportBatchSize: 64 }),
  ],
});
provider.register(); // global tracer provider + AsyncLocalStorage context manager
const tracer = trace.getTracer('rag-app', '1.4.2');

async function retrieve(q, i) {
  return tracer.startActiveSpan('retrieve', { kind: SpanKind.INTERNAL, attributes: { 'retrieval.query': q, 'retrieval.top_k': 3 } }, async (span) => {
    try {
      await sleep(RETRIEVE_MS);
      if (FAIL_AT.has(i)) throw new Error(`vector store unavailable for query ${i}`);
      const docs = [`doc-${i}-a`, `doc-${i}-b`, `doc-${i}-c`];
      span.setAttribute('retrieval.documents.count', docs.length);
      return docs;
    } catch (err) {
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

async function llm(q, docs, i) {
  return tracer.startActiveSpan('llm', {
    kind: SpanKind.CLIENT,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'fake',
      'gen_ai.system': 'fake',
      'gen_ai.request.model': 'fake-chat-1',
    },
  }, async (span) => {
    await sleep(LLM_MS);
    const input = 40 + 10 * docs.length + i; // deterministic "token counts"
    const output = 20 + (i % 5);
    span.setAttributes({
      'gen_ai.response.model': 'fake-chat-1',
      'gen_ai.usage.input_tokens': input,
      'gen_ai.usage.output_tokens': output,
      'gen_ai.response.finish_reasons': ['stop'],
    });
    span.end();
    return `answer ${i}`;
  });
}

for (let i = 1; i <= TRACES; i++) {
  const q = `question number ${i}`;
  await tracer.startActiveSpan('query', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'url.path': '/query', 'app.request.index': i } }, async (root) => {
    try {
      const docs = await retrieve(q, i);
      await llm(q, docs, i);
      root.setAttribute('http.response.status_code', 200);
    } catch (err) {
      root.setAttribute('http.response.status_code', 500);
      root.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
    } finally {
      root.end();
    }
  });
}

await provider.forceFlush();
await provider.shutdown();
server.close();
console.log(`wrote ${counters.json} JSON and ${counters.pb} protobuf request bodies to ${OUT}`);
