// facts.mjs — computes expected.json from the recorded request bodies
// (../facts.mjs does the work for every folder).
import path from 'node:path';
import { writeFacts } from '../facts.mjs';

// What this set planted (record.mjs) and where its token counts live:
// Langfuse writes a generation's and an embedding's counts as a JSON object
// in langfuse.observation.usage_details ({"input": n, "output": m}).
const SET = {
  planted_ms: { 'embed-question': 15, 'vector-search': 60, 'rerank-passages': 10, answer: 50, 'answer.first_token': 30 },
  tokens: {
    prompt: { key: 'langfuse.observation.usage_details', json: 'input', names: ['answer'] },
    completion: { key: 'langfuse.observation.usage_details', json: 'output', names: ['answer'] },
    embedding: { key: 'langfuse.observation.usage_details', json: 'input', names: ['embed-question'] },
  },
  packages: ['@langfuse/tracing', '@langfuse/core', '@opentelemetry/api', '@opentelemetry/core', '@opentelemetry/sdk-trace-node', '@opentelemetry/sdk-trace-base', '@opentelemetry/resources', '@opentelemetry/exporter-trace-otlp-http'],
};

writeFacts(path.dirname(new URL(import.meta.url).pathname), SET);
