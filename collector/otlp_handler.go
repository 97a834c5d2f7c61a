package collector

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Defaults of the OTLP/HTTP handler.
const (
	// DefaultMaxBodyBytes bounds a request body, compressed and
	// decompressed; larger requests get 413.
	DefaultMaxBodyBytes = 8 << 20
	// DefaultRetryAfter is what a 429/503 answer asks the client to wait.
	DefaultRetryAfter = time.Second
)

type otlpConfig struct {
	maxBody    int64
	retryAfter time.Duration
	onIngested func([]spans.Span, []event.Record)
	logger     *slog.Logger
}

// OTLPOption configures NewOTLPHandler.
type OTLPOption func(*otlpConfig)

// WithMaxBodyBytes sets the request size limit (DefaultMaxBodyBytes).
func WithMaxBodyBytes(n int64) OTLPOption {
	return func(c *otlpConfig) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// WithOTLPLogger sets where failed requests (every 5xx, with its cause)
// are logged; discarded by default.
func WithOTLPLogger(l *slog.Logger) OTLPOption {
	return func(c *otlpConfig) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithRetryAfter sets the Retry-After of 429/503 answers (DefaultRetryAfter).
func WithRetryAfter(d time.Duration) OTLPOption {
	return func(c *otlpConfig) {
		if d > 0 {
			c.retryAfter = d
		}
	}
}

// WithOnIngested calls f with the spans and span events of every request
// once they are committed, before the 200 is sent: for live export (serve
// --export-jaeger) of spans that arrive over OTLP, without decoding them
// twice. Copies of stored spans (a client's retry) are left out, so f sees
// each span once; f is not called when nothing in the request was new. f runs on the request's goroutine, so it must not block; neither
// slice may be modified.
func WithOnIngested(f func([]spans.Span, []event.Record)) OTLPOption {
	return func(c *otlpConfig) { c.onIngested = f }
}

type otlpHandler struct {
	c   *Collector
	cfg otlpConfig
}

// NewOTLPHandler returns the OTLP/HTTP trace receiver: mount it at
// POST /v1/traces. It accepts application/x-protobuf and application/json
// bodies, optionally gzip-compressed, and answers:
//
//   - 200 with an ExportTraceServiceResponse once every valid span of the
//     request is committed; invalid spans are counted in partial_success;
//   - 400 for a body that cannot be decoded, with the reason;
//   - 413 for a body over the size limit, 415 for an unknown content type
//     or encoding, 405 for a method other than POST;
//   - 429 (decode budget or queue full) or 503 (shutting down, or the
//     write failed) with Retry-After, so that the client retries instead
//     of losing data.
//
// Error bodies are a google.rpc.Status in the request's own format. A body
// is read only after admission (see DefaultDecodeBudget); a request with
// more spans and events than the queue holds is committed in parts.
func NewOTLPHandler(c *Collector, opts ...OTLPOption) http.Handler {
	cfg := otlpConfig{maxBody: DefaultMaxBodyBytes, retryAfter: DefaultRetryAfter, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	return &otlpHandler{c: c, cfg: cfg}
}

type wireFormat int

const (
	formatProtobuf wireFormat = iota
	formatJSON
)

var errTooLarge = errors.New("request body too large")

func (h *otlpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	format := requestFormat(r)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, r, format, http.StatusMethodNotAllowed, "OTLP traces must be sent with POST", nil)
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-protobuf", "application/protobuf", "application/json":
	default:
		h.fail(w, r, format, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported content type %q: send application/x-protobuf or application/json", mt), nil)
		return
	}
	if r.ContentLength > h.cfg.maxBody {
		h.fail(w, r, format, http.StatusRequestEntityTooLarge, h.tooLarge(), nil)
		return
	}
	switch enc := contentCoding(r); enc {
	case "", "gzip":
	default:
		h.fail(w, r, format, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported content encoding %q: send gzip or none", enc), nil)
		return
	}
	// Admission: the body is read only once its share of the decode budget
	// is reserved, so memory stays bounded however many clients send at
	// once. The share is held until the spans are committed.
	release, err := h.c.adm.acquire(r.Context(), h.c.adm.cost(r, format == formatJSON, h.cfg.maxBody))
	if err != nil {
		h.retryLater(w, r, format, http.StatusTooManyRequests, fmt.Sprintf("collector busy: %d bytes of requests are being decoded; retry later", h.c.adm.budget), err)
		return
	}
	defer release()
	body, err := h.readBody(w, r)
	switch {
	case errors.Is(err, errTooLarge):
		h.fail(w, r, format, http.StatusRequestEntityTooLarge, h.tooLarge(), nil)
		return
	case err != nil:
		h.fail(w, r, format, http.StatusBadRequest, "cannot read request body: "+err.Error(), nil)
		return
	}
	var req *coltracepb.ExportTraceServiceRequest
	if format == formatJSON {
		req, err = otlpconv.DecodeJSON(body)
	} else {
		req, err = otlpconv.DecodeProtobuf(body)
	}
	body = nil // the decoded request is all that is needed now
	if err != nil {
		h.fail(w, r, format, http.StatusBadRequest, err.Error(), nil)
		return
	}
	batch := otlpconv.FromResourceSpans(req.GetResourceSpans())
	req = nil
	ss, evs, rejected, reason := batch.Spans, batch.Events, batch.Rejected, batch.Reason
	if rejected > 0 {
		h.c.m.spansRejected.Add(uint64(rejected))
	}
	ir, err := h.c.ingestAll(r.Context(), ss, evs)
	if err != nil {
		code, msg := http.StatusServiceUnavailable, "cannot store spans now: "+err.Error()
		switch {
		case errors.Is(err, ErrQueueFull):
			code, msg = http.StatusTooManyRequests, "collector queue is full; retry later"
		case errors.Is(err, ErrClosed):
			msg = "collector is shutting down; retry later"
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			msg = "request ended before its spans were committed; retry"
		}
		h.retryLater(w, r, format, code, msg, err)
		return
	}
	if h.cfg.onIngested != nil && len(ss) > 0 {
		ss, evs = withoutDuplicates(ss, evs, ir)
		if len(ss) > 0 || len(evs) > 0 {
			h.cfg.onIngested(ss, evs)
		}
	}
	resp := &coltracepb.ExportTraceServiceResponse{}
	switch {
	case rejected > 0:
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: int64(rejected), ErrorMessage: reason}
	case batch.Adjusted > 0:
		// No span rejected: the message is a warning (the specification's
		// use of partial_success for it).
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{
			ErrorMessage: fmt.Sprintf("%d span(s) stored with adjusted times (attribute %s); first: %s", batch.Adjusted, spans.KeyTimeAdjusted, batch.Adjustment)}
	}
	h.write(w, format, http.StatusOK, resp)
}

// withoutDuplicates leaves out of ss and evs what the writer dropped as
// copies of stored spans, so a client's retry is not mirrored twice.
func withoutDuplicates(ss []spans.Span, evs []event.Record, req *ingestRequest) ([]spans.Span, []event.Record) {
	return without(ss, req.dupSpans), without(evs, req.dupEvents)
}

// without returns xs less the elements whose address is in drop (xs
// itself when drop is empty).
func without[T any](xs []T, drop map[*T]bool) []T {
	if len(drop) == 0 {
		return xs
	}
	kept := make([]T, 0, len(xs)-len(drop))
	for i := range xs {
		if !drop[&xs[i]] {
			kept = append(kept, xs[i])
		}
	}
	return kept
}

func (h *otlpHandler) tooLarge() string {
	return fmt.Sprintf("request body too large: the limit is %d bytes (compressed and decompressed); send smaller batches", h.cfg.maxBody)
}

// retryLater answers code (429 or 503) with Retry-After.
func (h *otlpHandler) retryLater(w http.ResponseWriter, r *http.Request, format wireFormat, code int, msg string, cause error) {
	w.Header().Set("Retry-After", strconv.Itoa(max(int(h.cfg.retryAfter/time.Second), 1)))
	h.fail(w, r, format, code, msg, cause)
}

// requestFormat is the wire format of the answer: JSON for a JSON request,
// protobuf otherwise (the OTLP default).
func requestFormat(r *http.Request) wireFormat {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		return formatJSON
	}
	return formatProtobuf
}

// contentCoding is the request's Content-Encoding, lower case ("" for none
// or identity): content codings are case-insensitive.
func contentCoding(r *http.Request) string {
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if enc == "identity" {
		return ""
	}
	return enc
}

var errUnsupportedEncoding = errors.New("unsupported content encoding")

func (h *otlpHandler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := h.cfg.maxBody
	var rd io.Reader = http.MaxBytesReader(w, r.Body, limit)
	tooLarge := func(err error) bool {
		var mbe *http.MaxBytesError
		return errors.As(err, &mbe)
	}
	switch enc := contentCoding(r); enc {
	case "":
		if n := r.ContentLength; n >= 0 && n <= limit {
			// Exactly the announced size: no slack from growing a buffer
			// (admission counted this much).
			b := make([]byte, n)
			if _, err := io.ReadFull(rd, b); err != nil {
				return nil, err
			}
			return b, nil
		}
	case "gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			if tooLarge(err) {
				return nil, errTooLarge
			}
			return nil, fmt.Errorf("invalid gzip body: %w", err)
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, fmt.Errorf("%w %q: send gzip or none", errUnsupportedEncoding, enc)
	}
	// The decompressed size is bounded too, against zip bombs.
	b, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if tooLarge(err) || int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, err
}

// fail answers an error as a google.rpc.Status in the request's format.
// Every 5xx is logged with its cause.
func (h *otlpHandler) fail(w http.ResponseWriter, r *http.Request, format wireFormat, code int, msg string, cause error) {
	if code >= 500 {
		h.cfg.logger.Error("OTLP request failed", "status", code, "msg", msg, "err", cause, "remote", r.RemoteAddr)
	}
	h.write(w, format, code, &statuspb.Status{Code: int32(grpcCode(code)), Message: msg})
}

// grpcCode maps an HTTP status to the google.rpc.Code the Status body
// carries.
func grpcCode(httpCode int) int {
	switch httpCode {
	case http.StatusBadRequest:
		return 3 // INVALID_ARGUMENT
	case http.StatusRequestEntityTooLarge:
		return 11 // OUT_OF_RANGE
	case http.StatusTooManyRequests:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	case http.StatusUnsupportedMediaType, http.StatusMethodNotAllowed:
		return 12 // UNIMPLEMENTED
	}
	return 2 // UNKNOWN
}

func (h *otlpHandler) write(w http.ResponseWriter, format wireFormat, code int, m proto.Message) {
	var b []byte
	var err error
	if format == formatJSON {
		w.Header().Set("Content-Type", "application/json")
		b, err = protojson.Marshal(m)
	} else {
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, err = proto.Marshal(m)
	}
	if err != nil {
		http.Error(w, "cannot encode response", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
