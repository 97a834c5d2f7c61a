package event

import "github.com/stagescope/stagescope/spans"

// QueryStart: a query entered the query engine.
type QueryStart struct {
	Header
	Query string `json:"query"`
}

func (*QueryStart) Name() string       { return "query.start" }
func (*QueryStart) Stage() spans.Stage { return spans.StageQuery }
func (e *QueryStart) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("query.text", e.Query)}
}

// QueryEnd: the query engine answered.
type QueryEnd struct {
	Header
	Query    string `json:"query"`
	Response string `json:"response"`
	Sources  int    `json:"sources"`
}

func (*QueryEnd) Name() string       { return "query.end" }
func (*QueryEnd) Stage() spans.Stage { return spans.StageQuery }
func (e *QueryEnd) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("query.text", e.Query), spans.String("query.response", e.Response), spans.Int("query.sources", e.Sources)}
}
