// Records the OTLP/HTTP request bodies that Traceloop's OpenLLMetry JS SDK
// (@traceloop/node-server-sdk, with its OpenAI and Qdrant instrumentations)
// sends for a small RAG pipeline:
//
//   rag_pipeline.workflow
//     embed_query.task     (~15 ms; the embeddings call is not instrumented)
//     qdrant.search        (Qdrant's REST API, ~70 ms on the fake server)
//     rerank_hits.task     (~10 ms)
//     openai.chat          (OpenAI's chat completions API, ~60 ms)
//
// OpenAI and Qdrant are fake servers on 127.0.0.1 inside this program that
// answer in the real APIs' shapes after a planted delay; the chat call of
// request FAIL_AT gets a 500. A sink on 127.0.0.1 writes each OTLP body the
// SDK's exporter POSTs verbatim: request-NNN.json.
//
//   npm ci && node record.mjs [outdir]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as traceloop from '@traceloop/node-server-sdk';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import OpenAI from 'openai';
import * as qdrant from '@qdrant/js-client-rest';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';

const OUT = path.resolve(process.argv[2] ?? path.dirname(new URL(import.meta.url).pathname));
const TRACES = 20;
const FAIL_AT = 11; // the chat call of this request gets a 500
const EMBED_MS = 15;
const SEARCH_MS = 70;
const RERANK_MS = 10;
const CHAT_MS = 60;

function listen(handler) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks)));
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}
const url = (s) => `http://127.0.0.1:${s.address().port}`;
const json = (res, code, body) => {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

// ---- the sink: writes every request body verbatim ----
for (const f of fs.readdirSync(OUT)) if (/^request-\d+\.(json|pb)$/.test(f)) fs.unlinkSync(path.join(OUT, f));
let bodies = 0;
const sink = await listen((req, res, body) => {
  fs.writeFileSync(path.join(OUT, `request-${String(++bodies).padStart(3, '0')}.json`), body);
  json(res, 200, {});
});

// ---- a fake OpenAI: chat completions and embeddings ----
let chats = 0;
const openaiServer = await listen(async (req, res, body) => {
  const b = JSON.parse(body.toString() || '{}');
  if (req.url.endsWith('/embeddings')) {
    await sleep(EMBED_MS);
    const n = String(b.input).split(/\s+/).length;
    return json(res, 200, { object: 'list', model: b.model, data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2, 0.3] }], usage: { prompt_tokens: n, total_tokens: n } });
  }
  if (req.url.endsWith('/chat/completions')) {
    const i = ++chats;
    await sleep(CHAT_MS);
    if (b.messages.some((m) => m.content.includes(`Question ${FAIL_AT}:`))) return json(res, 500, { error: { message: 'the model is overloaded', type: 'server_error', code: null } });
    const prompt = b.messages.map((m) => m.content).join(' ').split(/\s+/).length * 3 + 7;
    const completion = 40 + (i % 5) * 3;
    return json(res, 200, {
      id: `chatcmpl-${i}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: 'gpt-4o-mini-2024-07-18',
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `Answer ${i}: see the cited passages.` } }],
      usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
    });
  }
  json(res, 404, { error: { message: 'not found' } });
});

// ---- a fake Qdrant: search ----
const qdrantServer = await listen(async (req, res) => {
  if (req.url.includes('/points/search')) {
    await sleep(SEARCH_MS);
    return json(res, 200, { status: 'ok', time: SEARCH_MS / 1000, result: [1, 2, 3].map((id) => ({ id, version: 1, score: 1 - id / 10, payload: { text: `passage ${id}` } })) });
  }
  json(res, 200, { title: 'qdrant - vector search engine', version: '1.16.2', status: 'ok', time: 0, result: {} });
});

// ---- the SDK ----
traceloop.initialize({
  appName: 'traceloop-rag',
  apiKey: 'fixture',
  baseUrl: url(sink),
  exporter: new OTLPTraceExporter({ url: `${url(sink)}/v1/traces` }),
  disableBatch: false,
  traceloopSyncEnabled: false,
  silenceInitializationMessage: true,
  instrumentModules: { openAI: OpenAI, qdrant },
});

const openai = new OpenAI({ apiKey: 'fixture', baseURL: `${url(openaiServer)}/v1`, maxRetries: 0 });
const db = new qdrant.QdrantClient({ url: url(qdrantServer), checkCompatibility: false });

async function answer(question, i) {
  return traceloop.withWorkflow({ name: 'rag_pipeline' }, async () => {
    const vector = await traceloop.withTask({ name: 'embed_query' }, async () => {
      const r = await openai.embeddings.create({ model: 'text-embedding-3-small', input: question });
      return r.data[0].embedding;
    });
    const hits = await db.search('docs', { vector, limit: 3, with_payload: true });
    const top = await traceloop.withTask({ name: 'rerank_hits' }, async () => {
      await sleep(RERANK_MS);
      return hits.slice(0, 2);
    });
    const r = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Answer from the passages.' },
        { role: 'user', content: `${top.map((h) => h.payload.text).join(' ')} Question ${i}: ${question}` },
      ],
    });
    return r.choices[0].message.content;
  });
}

// One warm-up request with tracing suppressed: the first request of a
// process pays for connections, lazy module loading and JIT compilation in
// every step, which would make it the slowest request by far.
await context.with(suppressTracing(context.active()), () => answer('warm up', 0));

for (let i = 1; i <= TRACES; i++) {
  try {
    await answer(`how do I size the worker pool for request ${i}`, i);
  } catch (err) {
    if (i !== FAIL_AT) throw err;
  }
}
await traceloop.forceFlush();
await sleep(300);
for (const s of [sink, openaiServer, qdrantServer]) s.close();
console.log(`recorded ${bodies} request bodies in ${OUT}`);
process.exit(0);
