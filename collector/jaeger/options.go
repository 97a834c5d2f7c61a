package jaeger

import (
	"crypto/tls"
	"maps"
	"time"
)

// Defaults of the exporters, overridable by options.
const (
	// DefaultOTLPEndpoint is where Jaeger's OTLP/HTTP receiver listens.
	DefaultOTLPEndpoint = "http://127.0.0.1:4318"
	// DefaultThriftEndpoint is a Jaeger collector's Thrift-over-HTTP route.
	DefaultThriftEndpoint = "http://127.0.0.1:14268/api/traces"
	// DefaultBatchSize is the number of spans per request when replaying.
	DefaultBatchSize = 512
	// DefaultTimeout bounds one export request.
	DefaultTimeout = 10 * time.Second
	// DefaultLiveQueueSize bounds the spans waiting for live export.
	DefaultLiveQueueSize = 2048
	// DefaultLiveBatchTimeout is how long live export waits to fill a batch.
	DefaultLiveBatchTimeout = time.Second
	// DefaultMaxTagValueLength is the longest Thrift tag value sent; longer
	// string values are cut.
	DefaultMaxTagValueLength = 64 << 10
)

// Option configures NewOTLPExporter, NewThriftExporter and NewLiveExporter.
// Each constructor documents the options it ignores.
type Option func(*config)

type config struct {
	service      string
	batchSize    int
	timeout      time.Duration
	headers      map[string]string
	gzip         bool
	retry        bool
	tls          *tls.Config
	progress     ProgressFunc
	queueSize    int
	batchTimeout time.Duration
	onError      func(error)
}

func newConfig(opts []Option) config {
	c := config{
		service:      DefaultServiceName,
		batchSize:    DefaultBatchSize,
		timeout:      DefaultTimeout,
		headers:      map[string]string{},
		retry:        true,
		queueSize:    DefaultLiveQueueSize,
		batchTimeout: DefaultLiveBatchTimeout,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithServiceName sets the Jaeger service of spans without a service.name
// attribute (live export: of every span).
func WithServiceName(name string) Option {
	return func(c *config) {
		if name != "" {
			c.service = name
		}
	}
}

// WithBatchSize sets how many spans go in one request (live export: the
// largest batch the batch span processor sends).
func WithBatchSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.batchSize = n
		}
	}
}

// WithTimeout bounds each export request (OTEL_EXPORTER_OTLP_TIMEOUT).
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithHeaders adds HTTP headers to every export request
// (OTEL_EXPORTER_OTLP_HEADERS).
func WithHeaders(h map[string]string) Option {
	return func(c *config) { maps.Copy(c.headers, h) }
}

// WithGzip compresses OTLP requests (OTEL_EXPORTER_OTLP_COMPRESSION=gzip).
// The Thrift exporter ignores it.
func WithGzip(on bool) Option { return func(c *config) { c.gzip = on } }

// WithRetry turns the OTLP exporter's retries of failed requests on (the
// default) or off. The Thrift exporter ignores it.
func WithRetry(on bool) Option { return func(c *config) { c.retry = on } }

// WithTLSConfig sets the TLS client configuration for https endpoints
// (OTEL_EXPORTER_OTLP_CERTIFICATE and friends, once loaded by the caller).
func WithTLSConfig(cfg *tls.Config) Option { return func(c *config) { c.tls = cfg } }

// WithProgress reports the progress of every Export call. Live export
// ignores it.
func WithProgress(f ProgressFunc) Option { return func(c *config) { c.progress = f } }

// WithQueueSize bounds the live export queue; spans that find it full are
// dropped and counted. Replay ignores it.
func WithQueueSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.queueSize = n
		}
	}
}

// WithBatchTimeout sets how long live export waits before sending a batch
// that is not full. Replay ignores it.
func WithBatchTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.batchTimeout = d
		}
	}
}

// WithErrorHandler receives the errors of live export requests (they do not
// stop export; they are also counted in LiveStats). Replay returns its
// errors from Export instead.
func WithErrorHandler(f func(error)) Option { return func(c *config) { c.onError = f } }
