package synth

import "strings"

// The prompt templates. The dashed lines delimit the context (the
// extractive local LLM relies on them, and real models read them well).
const (
	textQATemplate = "Context information is below.\n" +
		"---------------------\n{context}\n---------------------\n" +
		"Given the context information and not prior knowledge, answer the query.\n" +
		"Query: {query}\nAnswer: "
	refineTemplate = "The original query is as follows: {query}\n" +
		"We have provided an existing answer:\n---------------------\n{existing}\n---------------------\n" +
		"We have the opportunity to refine the existing answer (only if needed) with some more context below.\n" +
		"---------------------\n{context}\n---------------------\n" +
		"Given the new context, refine the original answer to better answer the query. " +
		"If the context isn't useful, return the original answer.\n" +
		"Query: {query}\nRefined Answer: "
	summaryTemplate = "Context information from multiple sources is below.\n" +
		"---------------------\n{context}\n---------------------\n" +
		"Given the information from multiple sources and not prior knowledge, answer the query.\n" +
		"Query: {query}\nAnswer: "
)

// chunkSeparator joins the chunks packed into one prompt.
const chunkSeparator = "\n\n"

func fill(template, query, existing, context string) string {
	return strings.NewReplacer("{query}", query, "{existing}", existing, "{context}", context).Replace(template)
}
