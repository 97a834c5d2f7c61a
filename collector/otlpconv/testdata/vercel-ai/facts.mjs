// facts.mjs — computes expected.json from the recorded request bodies
// (../facts.mjs does the work for every folder).
import path from 'node:path';
import { writeFacts } from '../facts.mjs';

// What this set planted (record.mjs) and where its token counts live. The
// SDK puts ai.usage.* on both the outer ai.* span and the inner do* span,
// so the chat tokens are summed from gen_ai.usage.*, which only the inner
// spans carry, and the embedding tokens from the outer spans only.
const SET = {
  planted_ms: { 'ai.generateText.doGenerate': 50, 'ai.streamText.doStream.first_chunk': 40, 'ai.streamText.doStream': 90, 'ai.embed.doEmbed': 20, 'ai.embedMany.doEmbed': 20 },
  tokens: {
    prompt: { key: 'gen_ai.usage.input_tokens' },
    completion: { key: 'gen_ai.usage.output_tokens' },
    embedding: { key: 'ai.usage.tokens', names: ['ai.embed', 'ai.embedMany'] },
  },
  attribute_stats: ['ai.response.msToFirstChunk', 'ai.response.msToFinish', 'ai.response.avgOutputTokensPerSecond'],
  packages: ['ai', '@ai-sdk/provider', '@ai-sdk/provider-utils', '@opentelemetry/api', '@opentelemetry/sdk-trace-node', '@opentelemetry/sdk-trace-base', '@opentelemetry/sdk-trace', '@opentelemetry/resources', '@opentelemetry/exporter-trace-otlp-http'],
};

writeFacts(path.dirname(new URL(import.meta.url).pathname), SET);
