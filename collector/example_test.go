package collector_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/spans"
)

// A pipeline's spans go to SQLite through the collector's handler; the
// store then answers the dashboard's questions.
func Example() {
	dir, _ := os.MkdirTemp("", "stagescope-example")
	defer os.RemoveAll(dir)
	store, err := collector.OpenSQLite(filepath.Join(dir, "traces.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	c := collector.New(store, collector.WithService("example"))
	d := dispatcher.Get("example.pipeline")
	defer d.AddSpanHandler(c.Handler())()

	ctx := context.Background()
	qctx, q := d.Start(ctx, "query", spans.StageQuery)
	_, r := d.Start(qctx, "retrieve", spans.StageRetrieve)
	r.End()
	q.End()

	if err := c.Shutdown(ctx); err != nil { // writes everything accepted
		panic(err)
	}
	page, _ := store.ListTraces(ctx, collector.TraceQuery{Service: "example"})
	t := page.Traces[0]
	fmt.Println(t.RootName, t.SpanCount, t.Stages)
	// Output: query 2 [retrieve query]
}
