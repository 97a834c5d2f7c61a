// Package synth turns retrieved chunks into an answer with an LLM, within
// the model's context window, in LlamaIndex's response modes:
//
//   - Compact packs as many chunks as fit into each prompt, answers from the
//     first pack and refines the answer with each following one (fewest
//     calls);
//   - Refine answers from the first chunk and refines with every following
//     chunk, one call each;
//   - TreeSummarize packs the chunks, summarises the packs in parallel
//     (through engine/pool), and repeats on the summaries until one answer
//     is left.
//
// A Synthesize call is a span "synthesize" in stage synth; the model calls
// are its children (in tree_summarize, children of the pool's job spans).
// Prompts are sized with a tokens.Counter so that no prompt plus its
// reserved output exceeds the context window; an optional tokens.Budget
// stops the synthesis with a clear error when it would spend too much.
//
// The package must not retrieve or rerank; it gets its chunks as text.
package synth
