package jaeger

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/stagescope/stagescope/dispatcher/otelbridge"
	"github.com/stagescope/stagescope/spans"
)

// Exporter sends stored traces to Jaeger.
type Exporter interface {
	// Export sends traces in batches and returns what was delivered. It
	// stops at the first failed request and returns its error; the Stats
	// then count what was delivered before it. Export honours ctx.
	Export(ctx context.Context, traces []Trace) (Stats, error)
	// Shutdown sends anything still buffered and releases the exporter.
	Shutdown(ctx context.Context) error
}

var (
	_ Exporter = (*OTLPExporter)(nil)
	_ Exporter = (*ThriftExporter)(nil)
)

// OTLPExporter replays stored traces over OTLP/HTTP through the
// OpenTelemetry SDK and the stagescope OpenTelemetry bridge, keeping
// stagescope's trace and span IDs.
type OTLPExporter struct {
	cfg  config
	url  string
	exp  sdktrace.SpanExporter
	proc *replayProcessor

	mu      sync.Mutex // one Export at a time; guards the maps
	tps     map[string]*sdktrace.TracerProvider
	bridges map[string]*otelbridge.Bridge
	closed  bool
}

// NewOTLPExporter returns an exporter that posts to endpoint (default
// DefaultOTLPEndpoint; without a path, /v1/traces is appended). It ignores
// WithQueueSize, WithBatchTimeout and WithErrorHandler.
func NewOTLPExporter(ctx context.Context, endpoint string, opts ...Option) (*OTLPExporter, error) {
	cfg := newConfig(opts)
	u, err := otlpTracesURL(endpoint)
	if err != nil {
		return nil, err
	}
	exp, err := newOTLPClient(ctx, u, cfg)
	if err != nil {
		return nil, err
	}
	return &OTLPExporter{
		cfg: cfg, url: u, exp: exp, proc: &replayProcessor{},
		tps: map[string]*sdktrace.TracerProvider{}, bridges: map[string]*otelbridge.Bridge{},
	}, nil
}

// newOTLPClient builds the SDK's OTLP/HTTP exporter with every setting
// given explicitly, so that the SDK's own reading of OTEL_EXPORTER_OTLP_*
// variables has nothing left to decide.
func newOTLPClient(ctx context.Context, u string, cfg config) (*otlptraceExporter, error) {
	compression := otlptracehttp.NoCompression
	if cfg.gzip {
		compression = otlptracehttp.GzipCompression
	}
	o := []otlptracehttp.Option{
		otlptracehttp.WithEndpointURL(u),
		otlptracehttp.WithHeaders(cfg.headers),
		otlptracehttp.WithTimeout(cfg.timeout),
		otlptracehttp.WithCompression(compression),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: cfg.retry, InitialInterval: retryInitial, MaxInterval: retryMax, MaxElapsedTime: retryElapsed}),
	}
	if cfg.tls != nil {
		o = append(o, otlptracehttp.WithTLSClientConfig(cfg.tls))
	}
	exp, err := otlptracehttp.New(ctx, o...)
	if err != nil {
		return nil, fmt.Errorf("cannot create OTLP exporter for %s: %w", u, err)
	}
	return exp, nil
}

// bridgeFor returns the bridge onto a tracer provider whose resource names
// service; Jaeger takes the service from the resource.
func (e *OTLPExporter) bridgeFor(service string) *otelbridge.Bridge {
	if b, ok := e.bridges[service]; ok {
		return b
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(serviceResource(service)),
		sdktrace.WithIDGenerator(otelbridge.IDGenerator()),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithRawSpanLimits(unlimitedSpans()),
		sdktrace.WithSpanProcessor(e.proc),
	)
	b := otelbridge.New(tp)
	e.tps[service], e.bridges[service] = tp, b
	return b
}

func serviceResource(service string) *resource.Resource {
	return resource.NewSchemaless(attribute.String(spans.KeyService, service))
}

// unlimitedSpans lifts the SDK's per-span limits (128 attributes, events
// and links by default): a replay must not lose what the store kept.
func unlimitedSpans() sdktrace.SpanLimits {
	return sdktrace.SpanLimits{
		AttributeValueLengthLimit: -1, AttributeCountLimit: -1, EventCountLimit: -1, LinkCountLimit: -1,
		AttributePerEventCountLimit: -1, AttributePerLinkCountLimit: -1,
	}
}

// Export implements Exporter.
func (e *OTLPExporter) Export(ctx context.Context, traces []Trace) (Stats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var st Stats
	if e.closed {
		return st, ErrShutdown
	}
	pendingTraces, pendingEvents := 0, 0
	flush := func() error {
		batch := e.proc.take()
		if len(batch) == 0 {
			return nil
		}
		if err := e.exp.ExportSpans(ctx, batch); err != nil {
			return fmt.Errorf("cannot export %d spans to %s: %w", len(batch), e.url, err)
		}
		st.Batches++
		st.Spans += len(batch)
		st.Events += pendingEvents
		st.Traces += pendingTraces
		pendingTraces, pendingEvents = 0, 0
		if e.cfg.progress != nil {
			e.cfg.progress(st, len(traces))
		}
		return nil
	}
	for _, t := range traces {
		if err := ctx.Err(); err != nil {
			e.proc.take()
			return st, fmt.Errorf("export to %s cancelled: %w", e.url, err)
		}
		evs := t.eventsBySpan()
		for _, s := range t.Spans {
			if s == nil {
				continue
			}
			se := evs[s.SpanID]
			e.bridgeFor(serviceOf(s, e.cfg.service)).Replay(s, se)
			pendingEvents += len(se)
			if e.proc.len() >= e.cfg.batchSize {
				if err := flush(); err != nil {
					return st, err
				}
			}
		}
		pendingTraces++
	}
	if err := flush(); err != nil {
		return st, err
	}
	return st, nil
}

// Shutdown implements Exporter.
func (e *OTLPExporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var first error
	for _, tp := range e.tps {
		if err := tp.Shutdown(ctx); err != nil && first == nil {
			first = err
		}
	}
	if err := e.exp.Shutdown(ctx); err != nil && first == nil {
		first = fmt.Errorf("cannot shut down OTLP exporter for %s: %w", e.url, err)
	}
	return first
}
