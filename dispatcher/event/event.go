package event

import (
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Header is common to every event. The dispatcher fills the zero fields when
// the event is emitted.
type Header struct {
	Time    time.Time     `json:"time"`
	TraceID spans.TraceID `json:"trace_id"`
	SpanID  spans.SpanID  `json:"span_id"`
	Tags    []spans.Tag   `json:"tags,omitempty"`
}

// EventHeader returns h itself; embedding Header gives every event this method.
func (h *Header) EventHeader() *Header { return h }

// Event is implemented by every type in the catalogue (and may be implemented
// by a user's own events).
type Event interface {
	// EventHeader returns the header the dispatcher fills.
	EventHeader() *Header
	// Name is the dotted event name, for example "retrieval.end".
	Name() string
	// Stage is the pipeline stage the event belongs to.
	Stage() spans.Stage
	// Attrs renders the event's own fields (not the header) as typed
	// attributes with stable keys.
	Attrs() []spans.Attribute
}

// Record is the generic, storable form of any event.
type Record struct {
	Header
	Name  string            `json:"name"`
	Stage spans.Stage       `json:"stage"`
	Attrs []spans.Attribute `json:"attrs,omitempty"`
}

// ToRecord flattens e into a Record.
func ToRecord(e Event) Record {
	return Record{Header: *e.EventHeader(), Name: e.Name(), Stage: e.Stage(), Attrs: e.Attrs()}
}

// ScoredDoc is a document as retrieval and rerank see it.
type ScoredDoc struct {
	ID    string  `json:"id"`
	Score float64 `json:"score"`
}

func docIDs(docs []ScoredDoc) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

func docScores(docs []ScoredDoc) []float64 {
	out := make([]float64, len(docs))
	for i, d := range docs {
		out[i] = d.Score
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
