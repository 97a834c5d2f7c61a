// Package query answers questions over an index: retrieve → rerank →
// synthesize, each stage traced, with the model calls wrapped in
// engine/retry.
//
// Engine is configured with WithTopK (candidates retrieved), WithTopN
// (passages kept by the reranker), WithResponseMode (synth.Compact, Refine,
// TreeSummarize) and WithWorkers (how many queries QueryBatch runs at once
// through engine/pool). WithFaults plants latency and errors from
// engine/faultinject in chosen stages, for load tests and for demonstrating
// the bottleneck analysis on a pipeline whose slow stage is known.
//
// Every query is one "query" span (stage query) with QueryStart/QueryEnd
// events through the dispatcher "engine.query"; the stages' own spans are
// its children. BuildIndex and NewGoEngine build the whole pipeline over
// the Go standard library corpus (engine/corpus) with the local hash
// embedder, BM25 and a hybrid retriever, for the demo and the bench tool;
// IndexFromStorage rebuilds the retrievers from a persisted and reloaded
// storage context; Evaluate measures a retriever's hit rate and MRR on the
// corpus's labelled questions.
//
// The package must not own model clients or stores: it wires the stages
// it is given.
package query
