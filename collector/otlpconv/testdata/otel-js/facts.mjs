// facts.mjs — computes expected.json from the recorded request bodies
// (../facts.mjs does the work for every folder).
import path from 'node:path';
import { writeFacts } from '../facts.mjs';

// What this set planted (record.mjs) and where its token counts live:
const SET = {
  planted_ms: { retrieve: 60, llm: 50 },
  tokens: {
    prompt: { key: 'gen_ai.usage.input_tokens' },
    completion: { key: 'gen_ai.usage.output_tokens' },
  },
  packages: ['@opentelemetry/api', '@opentelemetry/sdk-trace-node', '@opentelemetry/sdk-trace-base', '@opentelemetry/sdk-trace', '@opentelemetry/resources', '@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/exporter-trace-otlp-proto', '@opentelemetry/otlp-transformer'],
};

writeFacts(path.dirname(new URL(import.meta.url).pathname), SET);
