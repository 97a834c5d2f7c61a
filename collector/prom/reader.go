package prom

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

// Reader queries one Prometheus for the spanmetrics series. It is safe for
// concurrent use.
type Reader struct {
	base      *url.URL
	cfg       config
	ownClient bool
}

var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// New returns a Reader of the Prometheus at baseURL (for example
// http://127.0.0.1:9090). It sends nothing; Health checks the connection.
func New(baseURL string, opts ...Option) (*Reader, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus URL %q: want http(s)://host[:port][/path]", baseURL)
	}
	cfg := config{timeout: DefaultTimeout, spanNamespace: DefaultSpanNamespace,
		rootNamespace: DefaultRootNamespace, maxBytes: DefaultMaxResponseBytes, headers: map[string]string{}}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.timeout <= 0 {
		return nil, fmt.Errorf("prometheus timeout %v: want > 0", cfg.timeout)
	}
	for _, ns := range []string{cfg.spanNamespace, cfg.rootNamespace} {
		if !metricName.MatchString(ns) {
			return nil, fmt.Errorf("metric namespace %q: want a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", ns)
		}
	}
	r := &Reader{base: u, cfg: cfg}
	if cfg.client == nil {
		// Its own transport, so that Close releases only its connections.
		r.cfg.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		r.ownClient = true
	}
	return r, nil
}

// Close releases the reader's idle connections (those of its own HTTP
// client; a client given with WithHTTPClient is the caller's to close).
func (r *Reader) Close() {
	if r.ownClient {
		r.cfg.client.CloseIdleConnections()
	}
}

// URL returns the base URL of the Prometheus read.
func (r *Reader) URL() string { return r.base.String() }

// family names the series of one spanmetrics connector: the calls counter
// and the duration histogram, in the unit it was configured with.
type family struct {
	calls, bucket, sum string
	seconds            float64 // one unit of the histogram, in seconds
}

// durationUnits are the units the spanmetrics connector offers, as the
// Prometheus exporter suffixes them.
var durationUnits = []struct {
	suffix  string
	seconds float64
}{{"seconds", 1}, {"milliseconds", 1e-3}}

// families finds the span and root families in Prometheus, or explains
// which is missing.
func (r *Reader) families(ctx context.Context, needRoots bool) (span, root family, err error) {
	names, err := r.metricNames(ctx, r.cfg.spanNamespace, r.cfg.rootNamespace)
	if err != nil {
		return family{}, family{}, err
	}
	find := func(ns string) (family, bool) {
		if !names[ns+"_calls_total"] {
			return family{}, false
		}
		for _, u := range durationUnits {
			h := ns + "_duration_" + u.suffix
			if names[h+"_bucket"] {
				return family{calls: ns + "_calls_total", bucket: h + "_bucket", sum: h + "_sum", seconds: u.seconds}, true
			}
		}
		return family{}, false
	}
	span, ok := find(r.cfg.spanNamespace)
	if !ok {
		return family{}, family{}, fmt.Errorf("%w: Prometheus at %s has no %s_calls_total and %s_duration_seconds_bucket series: "+
			"the collectors need the spanmetrics connector with its histogram, and Prometheus must scrape their prometheus exporter (tools/deploy)",
			ErrNoSpanMetrics, r.base, r.cfg.spanNamespace, r.cfg.spanNamespace)
	}
	if !needRoots {
		return span, family{}, nil
	}
	root, ok = find(r.cfg.rootNamespace)
	if !ok {
		return family{}, family{}, fmt.Errorf("%w: Prometheus at %s has the per-span series but no %s_calls_total and %s_duration_seconds_bucket: "+
			"end-to-end latency needs the root spans' spanmetrics connector (spanmetrics/roots in tools/deploy/collector.yaml)",
			ErrNoSpanMetrics, r.base, r.cfg.rootNamespace, r.cfg.rootNamespace)
	}
	return span, root, nil
}

// Health returns nil when Prometheus answers and holds both spanmetrics
// families; otherwise an error wrapping ErrUnavailable or ErrNoSpanMetrics
// that says what to fix.
func (r *Reader) Health(ctx context.Context) error {
	_, _, err := r.families(ctx, true)
	return err
}

// attrLabel is a label the connector's dimension for a span attribute
// becomes, and the attribute.
type attrLabel struct{ label, attr string }

// stageLabels are the labels of everything semconv.Stage reads, and
// failureLabels of what semconv.FailedByConvention reads: the dimensions of
// tools/deploy/collector.yaml.
var stageLabels, failureLabels = attrLabels(semconv.StageKeys()), attrLabels(semconv.FailureKeys())

func attrLabels(keys []string) []attrLabel {
	out := make([]attrLabel, len(keys))
	for i, k := range keys {
		out[i] = attrLabel{LabelName(k), k}
	}
	return out
}

// LabelName is the Prometheus label an attribute key becomes through the
// collector's Prometheus exporter: every character outside [a-zA-Z0-9_] is
// an underscore.
func LabelName(key string) string {
	b := []byte(key)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

const (
	labelSpanName = "span_name"
	labelStatus   = "status_code"
	labelLe       = "le"
	statusError   = "STATUS_CODE_ERROR"
	statusUnset   = "STATUS_CODE_UNSET"
)

// labelRunID is the run dimension's label.
var labelRunID = LabelName(spans.KeyRunID)

// joinLabels lists labels for a PromQL "by (…)".
func joinLabels(fixed []string, als ...[]attrLabel) string {
	ls := slices.Clone(fixed)
	for _, a := range als {
		for _, l := range a {
			ls = append(ls, l.label)
		}
	}
	return strings.Join(ls, ", ")
}

// stageBy is the grouping that keeps what decides a series' stage and
// failure and which scrape target (collector instance) it came from, so
// counter resets are seen per instance; rootBy keeps what decides a root's
// failure.
var (
	stageBy = joinLabels([]string{"job", "instance", labelSpanName}, stageLabels, failureLabels)
	rootBy  = joinLabels([]string{"job", "instance"}, failureLabels)
)

// attrsOf turns a series' labels back into the span attributes they were.
func attrsOf(labels map[string]string, als ...[]attrLabel) []spans.Attribute {
	var attrs []spans.Attribute
	for _, a := range als {
		for _, l := range a {
			if v, ok := labels[l.label]; ok && v != "" {
				attrs = append(attrs, spans.String(l.attr, v))
			}
		}
	}
	return attrs
}

// stageOf applies the one stage mapping to a series' labels.
func stageOf(labels map[string]string) spans.Stage {
	return semconv.Stage(labels[labelSpanName], attrsOf(labels, stageLabels))
}

// failed reports whether a series counts failed spans: an error status, or
// an unset one with a failure by the span's convention (Langfuse's level
// ERROR) — the rule of OTLP ingest.
func failed(labels map[string]string) bool {
	switch labels[labelStatus] {
	case statusError:
		return true
	case statusUnset:
		_, byConvention := semconv.FailedByConvention(attrsOf(labels, failureLabels))
		return byConvention
	}
	return false
}

// seriesKey identifies a series by its labels, minus those named in drop.
func seriesKey(labels map[string]string, drop ...string) string {
	keys := make([]string, 0, len(labels))
outer:
	for k := range labels {
		for _, d := range drop {
			if k == d {
				continue outer
			}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

// durationOf turns a histogram value in the family's unit into a Duration.
func durationOf(v, unitSeconds float64) time.Duration {
	return time.Duration(v * unitSeconds * float64(time.Second))
}
