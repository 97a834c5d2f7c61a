// Package rerank reorders retrieved passages by their relevance to a query
// and keeps the best topN.
//
// Reranker is the contract; NewLocalReranker scores passages on the machine
// (BM25 statistics over the candidate set, plus query-term coverage and
// proximity), and NewLLMReranker asks a language model to pick and score them.
// Every reranker emits a "rerank" span (stage rerank, with rerank.top_n and
// rerank.model) and RerankStart/RerankEnd events through the dispatcher
// "engine.rerank".
//
// The package must not retrieve, embed or synthesize: it only reorders the
// passages it is given.
package rerank
