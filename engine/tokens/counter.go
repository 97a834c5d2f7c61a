package tokens

// Counter counts the tokens of a text. *Encoder implements it; tests and
// pipelines that do not care about a model's real tokenizer may pass any
// other implementation.
type Counter interface {
	Count(text string) int
}

var _ Counter = (*Encoder)(nil)
