// Package bench sweeps a query pipeline over a grid of configurations —
// top_k × top_n × response mode × workers — on a labelled question set and
// measures, per configuration, end-to-end latency (p50/p95/p99 of the query
// spans), throughput, tokens and retrieval quality (hit rate and MRR of the
// passages kept for synthesis). It marks the Pareto front of latency against
// quality: the configurations no other one beats on both.
//
// Workers are concurrent clients: each asks questions one after the other,
// and every question is its own trace, as requests reaching a service are.
//
// Every configuration is one run: its spans carry the run's ID in the
// spans.KeyRunID tag, and a RunRecorder (the collector's store, adapted by
// the command line) keeps its configuration and summary, whose JSON keys are
// the ones the dashboard's Runs page reads (see Summary).
//
// Quality is deterministic: the local embedder, BM25, the local reranker and
// the extractive model have no randomness, so the same corpus and question
// seed give the same hit rate and MRR on every machine and at any number of
// workers.
//
// The package must not read flags or environment variables, open stores or
// draw progress bars: callers pass a RunRecorder and a progress function.
package bench
