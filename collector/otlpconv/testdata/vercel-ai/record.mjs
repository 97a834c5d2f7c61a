// Records the OTLP/HTTP JSON request bodies that the Vercel AI SDK (`ai`)
// sends with experimental_telemetry enabled, driving its own mock models
// from `ai/test` (MockLanguageModelV3, MockEmbeddingModelV3):
//
//   10 x generateText   doGenerate takes 50 ms
//    1 x generateText   doGenerate throws after 50 ms (the error case)
//   10 x streamText     first text chunk after 40 ms, then 5 more 10 ms apart (~90 ms)
//   10 x embed          doEmbed takes 20 ms
//    5 x embedMany      3 values, maxEmbeddingsPerCall 2 -> 2 sequential doEmbed
//                       calls of 20 ms each (2 values, then 1)
//
// Every call is its own trace (the SDK's ai.* span is the root). The SDK
// finds the tracer through the global OpenTelemetry API, which the Node
// tracer provider is registered with. The exporter (exporter-trace-otlp-http,
// OTLP/JSON) posts to a sink on 127.0.0.1 that writes each body verbatim to
// request-NNN.json.
//
//   npm ci && node record.mjs [outdir]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodeTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { generateText, streamText, embed, embedMany } from 'ai';
import { MockLanguageModelV3, MockEmbeddingModelV3 } from 'ai/test';

const OUT = path.resolve(process.argv[2] ?? path.dirname(new URL(import.meta.url).pathname));
const N = 10;
const GENERATE_MS = 50;
const STREAM_FIRST_MS = 40;
const STREAM_CHUNK_MS = 10;
const STREAM_CHUNKS = 6;
const EMBED_MS = 20;

// ---- the sink: writes every request body verbatim ----
for (const f of fs.readdirSync(OUT)) if (/^request-\d+\.(json|pb)$/.test(f)) fs.unlinkSync(path.join(OUT, f));
let n = 0;
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    fs.writeFileSync(path.join(OUT, `request-${String(++n).padStart(3, '0')}.json`), Buffer.concat(chunks));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));

// ---- the SDK ----
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'vercel-ai-app', 'service.version': '2.1.0' }),
  spanProcessors: [
    new BatchSpanProcessor(
      new OTLPTraceExporter({ url: `http://127.0.0.1:${server.address().port}/v1/traces` }),
      { scheduledDelayMillis: 500, maxExportBatchSize: 128 },
    ),
  ],
});
provider.register();

// ---- the mock models ----
const usage = (input, output) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});
const words = (prompt) => prompt.flatMap((m) => (typeof m.content === 'string' ? [m.content] : m.content.map((p) => p.text ?? '')))
  .join(' ').split(/\s+/).filter(Boolean).length;

const chatModel = new MockLanguageModelV3({
  provider: 'mock-provider',
  modelId: 'mock-chat-1',
  doGenerate: async (options) => {
    await sleep(GENERATE_MS);
    const text = options.prompt.at(-1).content.map((p) => p.text).join('');
    if (text.includes('FAIL')) throw new Error('mock upstream error: model overloaded');
    return {
      content: [{ type: 'text', text: `Answer to: ${text}` }],
      finishReason: { unified: 'stop', raw: 'stop' },
      usage: usage(words(options.prompt), 12),
      warnings: [],
      response: { id: `resp-${Math.random().toString(16).slice(2, 10)}`, modelId: 'mock-chat-1', timestamp: new Date() },
    };
  },
  doStream: async (options) => {
    // stream-start, text-start and the first delta arrive together after
    // STREAM_FIRST_MS (the time to first token); each further delta
    // STREAM_CHUNK_MS later; text-end and finish right after the last one.
    const deltas = ['The ', 'answer ', 'is ', 'in ', 'passage ', 'two.'].slice(0, STREAM_CHUNKS);
    const input = words(options.prompt);
    let k = 0;
    return {
      stream: new ReadableStream({
        async pull(controller) {
          await sleep(k === 0 ? STREAM_FIRST_MS : STREAM_CHUNK_MS);
          if (k === 0) {
            controller.enqueue({ type: 'stream-start', warnings: [] });
            controller.enqueue({ type: 'response-metadata', id: `resp-stream-${input}`, modelId: 'mock-chat-1', timestamp: new Date() });
            controller.enqueue({ type: 'text-start', id: 't1' });
          }
          controller.enqueue({ type: 'text-delta', id: 't1', delta: deltas[k++] });
          if (k === deltas.length) {
            controller.enqueue({ type: 'text-end', id: 't1' });
            controller.enqueue({ type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: usage(input, deltas.length) });
            controller.close();
          }
        },
      }),
    };
  },
});

const embeddingModel = new MockEmbeddingModelV3({
  provider: 'mock-provider',
  modelId: 'mock-embed-1',
  maxEmbeddingsPerCall: 2,
  doEmbed: async ({ values }) => {
    await sleep(EMBED_MS);
    return {
      embeddings: values.map((v) => [v.length / 100, 0.5, 0.25]),
      usage: { tokens: values.reduce((s, v) => s + v.split(/\s+/).length, 0) },
      warnings: [],
    };
  },
});

const telemetry = (functionId) => ({ isEnabled: true, functionId, metadata: { app: 'fixture' } });

for (let i = 1; i <= N; i++) {
  await generateText({ model: chatModel, prompt: `question ${i} about the knowledge base`, experimental_telemetry: telemetry('answer') });
}
try {
  await generateText({ model: chatModel, prompt: 'FAIL this question', maxRetries: 0, experimental_telemetry: telemetry('answer') });
} catch { /* recorded as an error span */ }
for (let i = 1; i <= N; i++) {
  const result = streamText({ model: chatModel, prompt: `streamed question ${i}`, experimental_telemetry: telemetry('answer-stream') });
  for await (const _ of result.textStream) { /* consume fully */ }
  await result.usage;
}
for (let i = 1; i <= N; i++) {
  await embed({ model: embeddingModel, value: `query text ${i}`, experimental_telemetry: telemetry('embed-query') });
}
for (let i = 1; i <= N / 2; i++) {
  await embedMany({ model: embeddingModel, values: [`doc ${i} a`, `doc ${i} b`, `doc ${i} c`], experimental_telemetry: telemetry('embed-docs') });
}

await provider.forceFlush();
await provider.shutdown();
server.close();
console.log(`wrote ${n} request bodies to ${OUT}`);
