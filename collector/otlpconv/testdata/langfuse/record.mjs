// Records the OTLP/HTTP request bodies for a small RAG pipeline
// instrumented with Langfuse's JS tracing SDK (@langfuse/tracing), whose
// observations are OpenTelemetry spans. As a team that already uses Langfuse
// would send them to stagescope, they go through a plain OTel SDK provider
// with an OTLP/HTTP exporter to a sink on 127.0.0.1 that writes each body
// verbatim: request-NNN.json.
//
//   rag-request                        (span)
//     embed-question      ~15 ms       (embedding: model, usageDetails.input)
//     vector-search       ~60 ms       (retriever)
//     rerank-passages     ~10 ms       (span)
//     answer              ~50 ms       (generation: model, usageDetails input/output,
//                                      completionStartTime 30 ms in)
//
// The generation of request FAIL_AT throws: Langfuse marks it and the
// request's span with level ERROR and a status message (the OTel status is
// left unset).
//
//   npm ci && node record.mjs [outdir]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { NodeTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { startActiveObservation } from '@langfuse/tracing';

const OUT = path.resolve(process.argv[2] ?? path.dirname(new URL(import.meta.url).pathname));
const TRACES = 20;
const FAIL_AT = 7;
const EMBED_MS = 15;
const SEARCH_MS = 60;
const RERANK_MS = 10;
const FIRST_TOKEN_MS = 30;
const ANSWER_MS = 50;

// ---- the sink: writes every request body verbatim ----
for (const f of fs.readdirSync(OUT)) if (/^request-\d+\.(json|pb)$/.test(f)) fs.unlinkSync(path.join(OUT, f));
let bodies = 0;
const sink = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    fs.writeFileSync(path.join(OUT, `request-${String(++bodies).padStart(3, '0')}.json`), Buffer.concat(chunks));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'langfuse-rag', 'service.version': '2.0.1' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `http://127.0.0.1:${sink.address().port}/v1/traces` }), { scheduledDelayMillis: 500, maxExportBatchSize: 64 })],
});
provider.register();

async function answer(question, i) {
  return startActiveObservation('rag-request', async (req) => {
    req.update({ input: { question } });
    await startActiveObservation('embed-question', async (emb) => {
      await sleep(EMBED_MS);
      emb.update({ model: 'text-embedding-3-small', usageDetails: { input: question.split(' ').length } });
    }, { asType: 'embedding' });
    const passages = await startActiveObservation('vector-search', async (ret) => {
      await sleep(SEARCH_MS);
      const found = [`passage ${i}-a`, `passage ${i}-b`, `passage ${i}-c`];
      ret.update({ output: found });
      return found;
    }, { asType: 'retriever' });
    const top = await startActiveObservation('rerank-passages', async () => {
      await sleep(RERANK_MS);
      return passages.slice(0, 2);
    });
    const text = await startActiveObservation('answer', async (gen) => {
      gen.update({ model: 'gpt-4o-mini', input: [{ role: 'user', content: `${top.join(' ')} ${question}` }] });
      await sleep(FIRST_TOKEN_MS);
      gen.update({ completionStartTime: new Date() });
      await sleep(ANSWER_MS - FIRST_TOKEN_MS);
      if (i === FAIL_AT) throw new Error(`the model is overloaded (request ${i})`);
      const out = `Answer ${i}.`;
      gen.update({ output: out, usageDetails: { input: 60 + i, output: 20 + (i % 4) } });
      return out;
    }, { asType: 'generation' });
    req.update({ output: text });
    return text;
  });
}

// One warm-up request with tracing off: the first request of a process pays
// for lazy loading and JIT compilation in every step.
await context.with(suppressTracing(context.active()), () => answer('warm up', 0));

for (let i = 1; i <= TRACES; i++) {
  try {
    await answer(`how large should the worker pool be for request ${i}`, i);
  } catch (err) {
    if (i !== FAIL_AT) throw err;
  }
}
await provider.forceFlush();
await provider.shutdown();
sink.close();
console.log(`recorded ${bodies} request bodies in ${OUT}`);
