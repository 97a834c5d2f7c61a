// facts.mjs — computes expected.json from the recorded request bodies
// (../facts.mjs does the work for every folder).
import path from 'node:path';
import { writeFacts } from '../facts.mjs';

// What this set planted (record.mjs) and where its token counts live:
const SET = {
  planted_ms: { SlowDocsRetriever: 60, UsageFakeChatModel: 50, rerank_docs: 5 },
  tokens: {
    prompt: { key: 'llm.token_count.prompt' },
    completion: { key: 'llm.token_count.completion' },
    total: { key: 'llm.token_count.total' },
  },
  packages: ['@langchain/core', '@arizeai/openinference-instrumentation-langchain', '@arizeai/openinference-semantic-conventions', '@arizeai/openinference-core', '@opentelemetry/api', '@opentelemetry/sdk-trace-node', '@opentelemetry/sdk-trace-base', '@opentelemetry/sdk-trace', '@opentelemetry/resources', '@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/instrumentation'],
};

writeFacts(path.dirname(new URL(import.meta.url).pathname), SET);
