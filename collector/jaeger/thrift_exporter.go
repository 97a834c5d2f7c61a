package jaeger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"

	"github.com/opentracing/opentracing-go"
	jaegerclient "github.com/uber/jaeger-client-go"
	"github.com/uber/jaeger-client-go/transport"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// ThriftExporter replays stored traces as jaeger.thrift batches posted to a
// Jaeger collector's /api/traces endpoint, for collectors without OTLP.
// github.com/uber/jaeger-client-go is used for its HTTP transport and
// Thrift encoding only: every span is built with the stored IDs and times
// (jaeger-client-go's SelfRef), never sampled or timed by the client.
//
// jaeger.thrift has no slice values: slice attributes travel as their JSON
// text. Times are kept to the microsecond.
type ThriftExporter struct {
	cfg config
	url string
	ctx ctxRoundTripper

	mu       sync.Mutex // one Export at a time; guards services
	services map[string]*thriftService
	buffered int
	closed   bool
}

// thriftService is the tracer (one Jaeger process) and transport of one
// service name: a jaeger.thrift batch carries one process.
type thriftService struct {
	name   string
	tracer opentracing.Tracer
	closer io.Closer
	rep    *transportReporter
}

// NewThriftExporter returns an exporter that posts to collectorURL (default
// DefaultThriftEndpoint; without a path, /api/traces is appended). It
// ignores WithGzip, WithRetry, WithQueueSize, WithBatchTimeout and
// WithErrorHandler.
func NewThriftExporter(collectorURL string, opts ...Option) (*ThriftExporter, error) {
	cfg := newConfig(opts)
	u, err := thriftURL(collectorURL)
	if err != nil {
		return nil, err
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.tls != nil {
		base.TLSClientConfig = cfg.tls
	}
	e := &ThriftExporter{cfg: cfg, url: u, services: map[string]*thriftService{}}
	e.ctx.base = base
	return e, nil
}

// ctxRoundTripper gives the transport's requests, which it builds without a
// context, the context of the Export call in progress.
type ctxRoundTripper struct {
	base *http.Transport
	ctx  context.Context // set under ThriftExporter.mu
}

func (c *ctxRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.ctx != nil {
		r = r.WithContext(c.ctx)
	}
	return c.base.RoundTrip(r)
}

// transportReporter hands finished client spans to the HTTP transport,
// synchronously, and keeps the first error.
type transportReporter struct {
	t   *transport.HTTPTransport
	err error
}

var _ jaegerclient.Reporter = (*transportReporter)(nil)

func (r *transportReporter) Report(s *jaegerclient.Span) {
	if r.err != nil {
		return
	}
	if _, err := r.t.Append(s); err != nil {
		r.err = err
	}
}

func (r *transportReporter) Close() {}

// alwaysSample keeps every span and adds no sampler tags: the spans were
// sampled when they were recorded.
type alwaysSample struct{ jaegerclient.SamplerV2Base }

func (alwaysSample) decision() jaegerclient.SamplingDecision {
	return jaegerclient.SamplingDecision{Sample: true}
}
func (s alwaysSample) OnCreateSpan(*jaegerclient.Span) jaegerclient.SamplingDecision {
	return s.decision()
}
func (s alwaysSample) OnSetOperationName(*jaegerclient.Span, string) jaegerclient.SamplingDecision {
	return s.decision()
}
func (s alwaysSample) OnSetTag(*jaegerclient.Span, string, any) jaegerclient.SamplingDecision {
	return s.decision()
}
func (s alwaysSample) OnFinishSpan(*jaegerclient.Span) jaegerclient.SamplingDecision {
	return s.decision()
}

// service returns the tracer of the span's Jaeger process (processOf).
func (e *ThriftExporter) service(sp *spans.Span) *thriftService {
	key, name, tags := processOf(sp, e.cfg.service)
	if s, ok := e.services[key]; ok {
		return s
	}
	rep := &transportReporter{t: e.newTransport()}
	opts := []jaegerclient.TracerOption{jaegerclient.TracerOptions.MaxTagValueLength(DefaultMaxTagValueLength)}
	for _, t := range tags {
		opts = append(opts, jaegerclient.TracerOptions.Tag(t.key, t.value))
	}
	tr, closer := jaegerclient.NewTracer(name, alwaysSample{}, rep, opts...)
	s := &thriftService{name: name, tracer: tr, closer: closer, rep: rep}
	e.services[key] = s
	return s
}

func (e *ThriftExporter) newTransport() *transport.HTTPTransport {
	return transport.NewHTTPTransport(e.url,
		transport.HTTPBatchSize(math.MaxInt), // Export decides when to send
		transport.HTTPRoundTripper(&e.ctx),
		transport.HTTPTimeout(e.cfg.timeout),
		transport.HTTPHeaders(e.cfg.headers),
	)
}

func clientTraceID(t spans.TraceID) jaegerclient.TraceID {
	return jaegerclient.TraceID{High: binary.BigEndian.Uint64(t[:8]), Low: binary.BigEndian.Uint64(t[8:])}
}

func clientSpanID(s spans.SpanID) jaegerclient.SpanID {
	return jaegerclient.SpanID(binary.BigEndian.Uint64(s[:]))
}

// replay builds the client span of s with its stored identity and times; it
// ends up in the service's transport buffer.
func (e *ThriftExporter) replay(svc *thriftService, s *spans.Span, evs []event.Record) {
	tid := clientTraceID(s.TraceID)
	self := jaegerclient.NewSpanContext(tid, clientSpanID(s.SpanID), clientSpanID(s.ParentID), true, nil)
	opts := make([]opentracing.StartSpanOption, 0, 2+len(s.Links)+1)
	opts = append(opts, jaegerclient.SelfRef(self), opentracing.StartTime(s.Start))
	if !s.ParentID.IsZero() {
		opts = append(opts, opentracing.ChildOf(jaegerclient.NewSpanContext(tid, clientSpanID(s.ParentID), 0, true, nil)))
	}
	for _, l := range s.Links {
		opts = append(opts, opentracing.FollowsFrom(jaegerclient.NewSpanContext(clientTraceID(l.TraceID), clientSpanID(l.SpanID), 0, true, nil)))
	}
	cs := svc.tracer.StartSpan(s.Name, opts...)
	for _, t := range spanTags(s) {
		cs.SetTag(t.key, t.value)
	}
	fin := opentracing.FinishOptions{FinishTime: s.End}
	if s.End.IsZero() || s.End.Before(s.Start) {
		fin.FinishTime = s.Start
	}
	if len(evs) > 0 {
		fin.LogRecords = make([]opentracing.LogRecord, len(evs))
		for i, ev := range evs {
			fin.LogRecords[i] = opentracing.LogRecord{Timestamp: ev.Time, Fields: logFields(ev.Name, ev.Attrs)}
		}
	}
	cs.FinishWithOptions(fin)
}

// flush sends every service's buffered spans, one request per service.
func (e *ThriftExporter) flush() (sent, requests int, err error) {
	for _, svc := range e.services {
		name := svc.name
		if svc.rep.err != nil {
			err := svc.rep.err
			svc.rep.err = nil
			return sent, requests, fmt.Errorf("cannot send Thrift batch of service %q to %s: %w", name, e.url, err)
		}
		n, err := svc.rep.t.Flush()
		if err != nil {
			return sent, requests, fmt.Errorf("cannot send %d spans of service %q to %s: %w", n, name, e.url, err)
		}
		if n > 0 {
			sent += n
			requests++
		}
	}
	e.buffered = 0
	return sent, requests, nil
}

// Export implements Exporter.
func (e *ThriftExporter) Export(ctx context.Context, traces []Trace) (Stats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var st Stats
	if e.closed {
		return st, ErrShutdown
	}
	e.ctx.ctx = ctx
	defer func() { e.ctx.ctx = nil }()
	pendingTraces, pendingEvents := 0, 0
	flush := func() error {
		n, requests, err := e.flush()
		st.Spans += n
		st.Batches += requests
		if err != nil {
			e.drop()
			if ctx.Err() != nil {
				return fmt.Errorf("export to %s cancelled: %w", e.url, errors.Join(ctx.Err(), err))
			}
			return err
		}
		if n == 0 {
			return nil
		}
		st.Traces += pendingTraces
		st.Events += pendingEvents
		pendingTraces, pendingEvents = 0, 0
		if e.cfg.progress != nil {
			e.cfg.progress(st, len(traces))
		}
		return nil
	}
	for _, t := range traces {
		if err := ctx.Err(); err != nil {
			e.drop()
			return st, fmt.Errorf("export to %s cancelled: %w", e.url, err)
		}
		evs := eventsBySpan(t)
		for _, s := range t.Spans {
			if s == nil {
				continue
			}
			se := evs[s.SpanID]
			e.replay(e.service(s), s, se)
			pendingEvents += len(se)
			e.buffered++
			if e.buffered >= e.cfg.batchSize {
				if err := flush(); err != nil {
					return st, err
				}
			}
		}
		pendingTraces++
	}
	return st, flush()
}

// drop forgets buffered spans after a failure, so that a later Export does
// not resend them.
func (e *ThriftExporter) drop() {
	for _, svc := range e.services {
		svc.rep.err = nil
		svc.rep.t = e.newTransport()
	}
	e.buffered = 0
}

// Shutdown implements Exporter. Export sends everything it is given, so
// nothing is left to flush; Shutdown closes the tracers.
func (e *ThriftExporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	for _, svc := range e.services {
		if err := svc.closer.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	e.ctx.base.CloseIdleConnections()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cannot close Thrift exporter for %s: %w", e.url, err)
	}
	return ctx.Err()
}
