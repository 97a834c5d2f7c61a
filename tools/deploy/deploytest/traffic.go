package deploytest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// SDKTraffic is what SendSDKTraffic sent.
type SDKTraffic struct {
	Service    string
	Traces     int
	Spans      int
	RootErrors int // traces whose root span failed
}

// SendSDKTraffic sends traces RAG pipelines instrumented with other
// conventions than stagescope's would send, through the OpenTelemetry Go
// SDK's OTLP/HTTP exporter to endpoint (a collector's OTLP/HTTP base URL):
// a root span marked as an OpenInference CHAIN, an OpenInference RETRIEVER,
// an OTel GenAI embeddings call, a GenAI chat call (failing in one trace of
// seven, which fails its root too) and a span known only by its name
// ("vector search"). Durations are drawn from seed, from a millisecond to a
// few seconds, and written as explicit timestamps, so the same seed sends
// the same latencies. It returns once the SDK has delivered everything.
func SendSDKTraffic(ctx context.Context, endpoint, service string, traces int, seed uint64) (SDKTraffic, error) {
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint+"/v1/traces"))
	if err != nil {
		return SDKTraffic{}, fmt.Errorf("cannot make the OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName(service))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithMaxExportBatchSize(256)),
		sdktrace.WithResource(res), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	tr := tp.Tracer("stagescope/deploytest")
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	// ms draws a duration in [lo, hi) milliseconds with microsecond
	// resolution plus 317 ns, so that no duration is a bucket bound.
	ms := func(lo, hi float64) time.Duration {
		return time.Duration((lo+rng.Float64()*(hi-lo))*1e3)*time.Microsecond + 317
	}
	sent := SDKTraffic{Service: service}
	base := time.Now().Add(-time.Minute)
	for i := range traces {
		start := base.Add(time.Duration(i) * 10 * time.Millisecond)
		t := start
		child := func(ctx context.Context, name string, d time.Duration, failed bool, attrs ...attribute.KeyValue) {
			_, sp := tr.Start(ctx, name, trace.WithTimestamp(t), trace.WithAttributes(attrs...), trace.WithSpanKind(trace.SpanKindClient))
			if failed {
				sp.SetStatus(codes.Error, "upstream returned 503")
			}
			t = t.Add(d)
			sp.End(trace.WithTimestamp(t))
			sent.Spans++
		}
		rctx, root := tr.Start(ctx, "rag-request", trace.WithTimestamp(start),
			trace.WithAttributes(attribute.String("openinference.span.kind", "CHAIN")))
		failed := i%7 == 3
		child(rctx, "embed-query", ms(1, 12), false, attribute.String("gen_ai.operation.name", "embeddings"))
		child(rctx, "VectorStoreRetriever", ms(3, 90), false, attribute.String("openinference.span.kind", "RETRIEVER"))
		child(rctx, "vector search", ms(2, 40), false)
		child(rctx, "chat gpt-4o", ms(150, 4000), failed, attribute.String("gen_ai.operation.name", "chat"),
			attribute.String("gen_ai.request.model", "gpt-4o"))
		if failed {
			root.SetStatus(codes.Error, "model call failed")
			sent.RootErrors++
		}
		root.End(trace.WithTimestamp(t.Add(ms(0, 2))))
		sent.Spans++
		sent.Traces++
	}
	if err := tp.Shutdown(ctx); err != nil {
		return sent, fmt.Errorf("the OTel SDK could not deliver every span to %s: %w", endpoint, err)
	}
	return sent, nil
}
