package jaeger_test

import (
	"context"
	"fmt"
	"time"

	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/dispatcher"
)

// Live export: every span of the process also goes to Jaeger, batched and
// bounded; drops are counted instead of slowing the pipeline.
func ExampleNewLiveExporter() {
	ctx := context.Background()
	live, err := jaeger.NewLiveExporter(ctx, "http://127.0.0.1:4318", jaeger.WithServiceName("rag"), jaeger.WithQueueSize(4096))
	if err != nil {
		fmt.Println(err)
		return
	}
	removeSpans := dispatcher.Root().AddSpanHandler(live)
	removeEvents := dispatcher.Root().AddEventHandler(live)

	// ... the pipeline runs ...

	removeSpans()
	removeEvents()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = live.Shutdown(ctx)
	st := live.Stats()
	fmt.Println(st.Ended == st.Exported+st.Failed+st.Dropped)
}

// Reading traces back from Jaeger for the bottleneck analysis.
func ExampleQueryClient_FindTraces() {
	qc, err := jaeger.NewQueryClient("http://127.0.0.1:16686")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer qc.Close()
	traces, err := qc.FindTraces(context.Background(), jaeger.Query{Service: "rag", From: time.Now().Add(-15 * time.Minute), Limit: 50})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range traces {
		fmt.Println(t.ID(), len(t.Spans), "spans")
	}
}

// Replaying stored traces to an old Jaeger collector over Thrift.
func ExampleNewThriftExporter() {
	exp, err := jaeger.NewThriftExporter("http://127.0.0.1:14268/api/traces",
		jaeger.WithProgress(func(done jaeger.Stats, total int) { fmt.Printf("\r%d/%d traces", done.Traces, total) }))
	if err != nil {
		fmt.Println(err)
		return
	}
	var stored []jaeger.Trace // from the collector's store
	if _, err := exp.Export(context.Background(), stored); err != nil {
		fmt.Println(err)
	}
	_ = exp.Shutdown(context.Background())
}
