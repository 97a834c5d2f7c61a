package otelbridge

import (
	"context"
	"math/rand/v2"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

type idsKey struct{}

type wantedIDs struct {
	traceID trace.TraceID
	spanID  trace.SpanID
}

// IDGenerator returns an sdktrace.IDGenerator that hands the SDK the IDs the
// bridge asks for, and random ones to every other caller.
func IDGenerator() sdktrace.IDGenerator { return idGenerator{} }

type idGenerator struct{}

var _ sdktrace.IDGenerator = idGenerator{}

func withIDs(ctx context.Context, t trace.TraceID, s trace.SpanID) context.Context {
	return context.WithValue(ctx, idsKey{}, wantedIDs{t, s})
}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if w, ok := ctx.Value(idsKey{}).(wantedIDs); ok && w.traceID.IsValid() && w.spanID.IsValid() {
		return w.traceID, w.spanID
	}
	var t trace.TraceID
	var s trace.SpanID
	for !t.IsValid() {
		putUint64(t[:8], rand.Uint64())
		putUint64(t[8:], rand.Uint64())
	}
	for !s.IsValid() {
		putUint64(s[:], rand.Uint64())
	}
	return t, s
}

func (g idGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if w, ok := ctx.Value(idsKey{}).(wantedIDs); ok && w.spanID.IsValid() {
		return w.spanID
	}
	_, s := g.NewIDs(context.Background())
	return s
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}
