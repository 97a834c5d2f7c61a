// facts.mjs — computes expected.json from the recorded request bodies
// (../facts.mjs does the work for every folder).
import path from 'node:path';
import { writeFacts } from '../facts.mjs';

// What this set planted (record.mjs) and where its token counts live. The
// OpenAI instrumentation writes gen_ai.usage.input_tokens/output_tokens on
// the chat spans; the embeddings call is not instrumented (no tokens).
const SET = {
  planted_ms: { 'embed_query.task': 15, 'qdrant.search': 70, 'rerank_hits.task': 10, 'chat gpt-4o-mini': 60 },
  tokens: {
    prompt: { key: 'gen_ai.usage.input_tokens' },
    completion: { key: 'gen_ai.usage.output_tokens' },
  },
  packages: ['@traceloop/node-server-sdk', '@traceloop/instrumentation-openai', '@traceloop/instrumentation-qdrant', '@traceloop/ai-semantic-conventions', 'openai', '@qdrant/js-client-rest', '@opentelemetry/api', '@opentelemetry/sdk-trace-node', '@opentelemetry/sdk-trace-base', '@opentelemetry/exporter-trace-otlp-http'],
};

writeFacts(path.dirname(new URL(import.meta.url).pathname), SET);
