package jaeger

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
)

// newOTLPClient builds the SDK's OTLP/HTTP client (retries, gzip, TLS,
// headers) with every setting given explicitly, so that the SDK's own
// reading of OTEL_EXPORTER_OTLP_* variables has nothing left to decide.
// The exporters hand it OTLP messages made by otlpconv, so what is sent is
// exactly what stagescope holds: each span's own resource, scope and kind.
func newOTLPClient(ctx context.Context, u string, cfg config) (otlptrace.Client, error) {
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
	c := otlptracehttp.NewClient(o...)
	if err := c.Start(ctx); err != nil {
		return nil, fmt.Errorf("cannot start OTLP client for %s: %w", u, err)
	}
	return c, nil
}
