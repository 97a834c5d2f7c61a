// Package retrieve finds the nodes most relevant to a query.
//
// Retriever is the contract. VectorStore keeps L2-normalised vectors in
// memory and answers cosine top-k queries with a bounded heap;
// NewVectorRetriever puts an embed.Embedder in front of it. BM25 is a keyword
// retriever over an inverted index (k1 = 1.2, b = 0.75 by default). Hybrid
// runs several retrievers concurrently and fuses their rankings with
// reciprocal-rank fusion.
//
// Every Retrieve call is one "retrieve" span (stage retrieve, with
// retrieval.top_k and retrieval.retriever) with RetrievalStart/RetrievalEnd
// events carrying the ids and scores, through the dispatcher
// "engine.retrieve". A hybrid's inner retrievals are child spans.
//
// The package must not rerank, synthesize or persist: engine/rerank,
// engine/synth and engine/storage do.
package retrieve
