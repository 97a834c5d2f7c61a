// Records the OTLP/HTTP JSON request bodies that OpenInference's LangChain.js
// instrumentation (@arizeai/openinference-instrumentation-langchain) sends for
// a small sequential RAG chain built from @langchain/core:
//
//   rag_chain = RunnableSequence(
//     RunnableMap{ docs: SlowDocsRetriever (60 ms), question: passthrough },
//     rerank_step (RunnableLambda calling the tool "rerank_docs", ~5 ms),
//     ChatPromptTemplate,
//     UsageFakeChatModel (FakeListChatModel + usage_metadata, 50 ms),
//     StringOutputParser)
//
// 20 queries run one after another; queries 7 and 15 make the retriever throw.
// The exporter (exporter-trace-otlp-http, OTLP/JSON) posts to a sink on
// 127.0.0.1 that writes each body verbatim to request-NNN.json.
//
//   npm ci && node record.mjs [outdir]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodeTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { LangChainInstrumentation } from '@arizeai/openinference-instrumentation-langchain';
import * as CallbackManagerModule from '@langchain/core/callbacks/manager';
import { BaseRetriever } from '@langchain/core/retrievers';
import { Document } from '@langchain/core/documents';
import { ChatPromptTemplate } from '@langchain/core/prompts';
import { StringOutputParser } from '@langchain/core/output_parsers';
import { RunnableSequence, RunnablePassthrough, RunnableLambda } from '@langchain/core/runnables';
import { tool } from '@langchain/core/tools';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { z } from 'zod';

const OUT = path.resolve(process.argv[2] ?? path.dirname(new URL(import.meta.url).pathname));
const QUERIES = 20;
const FAIL_AT = new Set([7, 15]); // the retriever throws for these queries
const RETRIEVE_MS = 60;
const LLM_MS = 50;
const RERANK_MS = 5;

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

// ---- the SDK and the instrumentation ----
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'langchain-rag', 'service.version': '0.3.0' }),
  spanProcessors: [
    new BatchSpanProcessor(
      new OTLPTraceExporter({ url: `http://127.0.0.1:${server.address().port}/v1/traces` }),
      { scheduledDelayMillis: 500, maxExportBatchSize: 128 },
    ),
  ],
});
provider.register();
const instrumentation = new LangChainInstrumentation();
instrumentation.manuallyInstrument(CallbackManagerModule);

// ---- the chain ----
class SlowDocsRetriever extends BaseRetriever {
  static lc_name() { return 'SlowDocsRetriever'; }
  lc_namespace = ['fixture', 'retrievers'];
  async _getRelevantDocuments(query) {
    await sleep(RETRIEVE_MS);
    const i = Number(/(\d+)$/.exec(query)?.[1]);
    if (FAIL_AT.has(i)) throw new Error(`vector store timeout for query ${i}`);
    return [1, 2, 3].map((k) => new Document({
      pageContent: `Passage ${k} about topic ${i}.`,
      metadata: { source: `kb/doc-${i}-${k}.md`, score: 1 - k / 10 },
    }));
  }
}

// The fake chat model of @langchain/core, which sleeps `sleep` ms per call,
// made to report token usage the way real chat models do (usage_metadata).
class UsageFakeChatModel extends FakeListChatModel {
  static lc_name() { return 'UsageFakeChatModel'; }
  async _generate(messages, options, runManager) {
    const result = await super._generate(messages, options, runManager);
    const words = messages.map((m) => String(m.content)).join(' ').split(/\s+/).filter(Boolean).length;
    const input = words;
    const output = result.generations[0].text.split(/\s+/).filter(Boolean).length;
    result.generations[0].message.usage_metadata = { input_tokens: input, output_tokens: output, total_tokens: input + output };
    return result;
  }
}

const rerank = tool(async ({ question, passages }) => {
  await sleep(RERANK_MS);
  return [...passages].sort().join('\n');
}, {
  name: 'rerank_docs',
  description: 'Orders retrieved passages by relevance to the question.',
  schema: z.object({ question: z.string(), passages: z.array(z.string()) }),
});

const prompt = ChatPromptTemplate.fromMessages([
  ['system', 'Answer using only this context:\n{context}'],
  ['human', '{question}'],
]);
const model = new UsageFakeChatModel({
  responses: ['The answer is in passage one.', 'Passage two says it plainly.', 'See the third passage for details.'],
  sleep: LLM_MS,
});

const chain = RunnableSequence.from([
  { docs: new SlowDocsRetriever(), question: new RunnablePassthrough() },
  RunnableLambda.from(async ({ docs, question }, config) => ({
    // config carries the parent run, so the tool's span joins this trace
    context: await rerank.invoke({ question, passages: docs.map((d) => d.pageContent) }, config),
    question,
  })).withConfig({ runName: 'rerank_step' }),
  prompt,
  model,
  new StringOutputParser(),
]).withConfig({ runName: 'rag_chain' });

let ok = 0, failed = 0;
for (let i = 1; i <= QUERIES; i++) {
  try {
    await chain.invoke(`what does the knowledge base say about topic ${i}`);
    ok++;
  } catch (err) {
    failed++;
  }
}

await provider.forceFlush();
await provider.shutdown();
server.close();
console.log(`${ok} queries answered, ${failed} failed; wrote ${n} request bodies to ${OUT}`);
