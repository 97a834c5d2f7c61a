package event

import "github.com/stagescope/stagescope/spans"

// Exception: an error or a recovered panic inside a span. The attribute keys
// follow OpenTelemetry's exception semantic conventions.
type Exception struct {
	Header
	Type    string      `json:"type"`
	Message string      `json:"message"`
	Stack   string      `json:"stack,omitempty"`
	Panic   bool        `json:"panic"`
	InStage spans.Stage `json:"stage"`
}

// NewException builds an Exception from err.
func NewException(err error, stage spans.Stage) *Exception {
	return &Exception{Type: errTypeName(err), Message: errText(err), InStage: stage}
}

func (*Exception) Name() string         { return "exception" }
func (e *Exception) Stage() spans.Stage { return e.InStage }
func (e *Exception) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("exception.type", e.Type), spans.String("exception.message", e.Message), spans.String("exception.stacktrace", e.Stack), spans.Bool("exception.panic", e.Panic)}
}
