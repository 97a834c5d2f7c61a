package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/dispatcher"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

// mirrorOTLP wraps the server so that spans ingested over OTLP, once
// accepted (200), are also handed to live export: --export-jaeger then
// covers every span serve receives, not only in-process ones. The live
// exporter never blocks, so ingest is not slowed beyond decoding the body a
// second time.
func mirrorOTLP(next http.Handler, live dispatcher.SpanHandler, maxBody int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			http.Error(w, "cannot read the request body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.status != http.StatusOK {
			return
		}
		req, err := decodeOTLP(body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), maxBody)
		if err != nil {
			return // the collector accepted it, so this cannot happen; nothing to mirror
		}
		ss, _, _, _ := collector.ConvertOTLP(req)
		for i := range ss {
			live.SpanEnded(&ss[i])
		}
	})
}

func decodeOTLP(body []byte, contentType, encoding string, maxBody int64) (*coltracepb.ExportTraceServiceRequest, error) {
	if strings.EqualFold(encoding, "gzip") {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body, err = io.ReadAll(io.LimitReader(zr, maxBody+1)); err != nil {
			return nil, err
		}
	}
	if strings.HasPrefix(contentType, "application/json") {
		return collector.DecodeOTLPJSON(body)
	}
	return collector.DecodeOTLPProtobuf(body)
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Flush keeps streaming responses (the live stream) working through the
// wrapper.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
