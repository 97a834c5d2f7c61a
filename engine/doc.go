// Package engine is the root of stagescope's instrumented pipeline runtime:
// the building blocks of a retrieval-augmented generation pipeline, each of
// which reports its work as spans and typed events through the dispatcher so
// that a Go pipeline is traced with no extra code.
//
// The parts live in sub-packages:
//
//   - pool: bounded worker pools (LlamaIndex's run_jobs / batch_gather) whose
//     jobs record queue wait and run time separately;
//   - retry: retries with exponential backoff, full jitter and a
//     context-aware sleep, one logical span with a child span per attempt;
//   - tokens: tiktoken counting with the offline loader, and token budgets;
//   - llm: the LLM interface, an OpenAI-compatible chat-completions client
//     and an extractive local LLM that needs no network;
//   - synth: response synthesis (compact, refine, tree_summarize) within a
//     context window;
//   - rerank, retrieve, embed, document, storage, corpus, query: the
//     retrieval side of the pipeline;
//   - faultinject: a testing tool that plants latency and errors in a stage.
//
// The engine imports spans and dispatcher only from stagescope; it must not
// import the collector, the HTTP handlers or anything under cmd, and nothing
// in it reads flags or environment variables: configuration arrives as
// options.
package engine
