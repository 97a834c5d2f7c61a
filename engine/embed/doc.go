// Package embed turns texts into vectors for similarity search.
//
// Embedder is the contract. NewHashEmbedder computes embeddings on the
// machine with no model: feature-hashed word unigrams and character n-grams,
// TF-IDF weighted (the IDF fitted on a corpus with Fit) and L2-normalised.
// NewOpenAI calls any server that speaks the OpenAI /v1/embeddings wire
// format (OpenAI, Ollama, vLLM, …), in batches, retrying 429 and 5xx
// answers through engine/retry and honouring Retry-After.
//
// Every Embed call is one "embed" span (stage embed, with embedding.model,
// embedding.chunks and embedding.tokens) and an EmbeddingStart/EmbeddingEnd
// pair of events through the dispatcher "engine.embed".
//
// The package must not store or search vectors; engine/retrieve does.
package embed
