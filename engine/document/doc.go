// Package document holds the units a RAG pipeline indexes: a Document (one
// source text with metadata) and the Nodes (chunks) cut from it, together
// with the token-aware SentenceSplitter that cuts them and the Terms
// analyser that keyword retrieval, reranking and the local embedder share.
//
// The package must not embed, index or store anything, and it must not know
// which tokenizer it counts with: it takes any Counter.
package document
