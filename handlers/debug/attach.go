package debug

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/otlpconv"
)

// Sink receives what an attachment brings in: each request as it came and
// its spans in stagescope's terms.
type Sink interface {
	Write(ctx context.Context, req *coltracepb.ExportTraceServiceRequest, b otlpconv.Batch) error
}

type collectorSink struct{ c *collector.Collector }

// CollectorSink writes into a collector (the local database): each batch is
// committed before the next is read.
func CollectorSink(c *collector.Collector) Sink { return collectorSink{c} }

func (s collectorSink) Write(ctx context.Context, _ *coltracepb.ExportTraceServiceRequest, b otlpconv.Batch) error {
	// Ingest waits for the commit; a full queue is waited out, not dropped.
	for {
		err := s.c.Ingest(ctx, b.Spans, b.Events)
		if !errors.Is(err, collector.ErrQueueFull) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type otlpSink struct {
	url, token string
	http       *http.Client
}

// OTLPSink posts each request to an OTLP/HTTP traces endpoint (a running
// serve's /v1/traces) with an optional bearer token.
func OTLPSink(url, token string) Sink { return &otlpSink{url: url, token: token, http: &http.Client{}} }

func (s *otlpSink) Write(ctx context.Context, req *coltracepb.ExportTraceServiceRequest, _ otlpconv.Batch) error {
	body, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		hr.Header.Set("Content-Type", "application/x-protobuf")
		if s.token != "" {
			hr.Header.Set("Authorization", "Bearer "+s.token)
		}
		resp, err := s.http.Do(hr)
		if err != nil {
			return fmt.Errorf("cannot send to %s: %w", s.url, err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			return nil
		case (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && attempt < 100:
			select { // the collector is full: wait, as the OTLP exporters do
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		default:
			return fmt.Errorf("%s refused the spans: %s: %s", s.url, resp.Status, bytes.TrimSpace(msg))
		}
	}
}

// AttachOptions say how long and what to take.
type AttachOptions struct {
	// For ends the attachment by itself (0: when ctx ends).
	For time.Duration
	// SnapshotOnly takes the snapshot and does not stream.
	SnapshotOnly bool
	// Progress is called after the snapshot and after each frame, on the
	// attaching goroutine.
	Progress func(*Progress)
	// DetachTimeout bounds the wait for the final frame once ctx ends
	// (10s when 0).
	DetachTimeout time.Duration
}

// Progress is the state of an attachment.
type Progress struct {
	SnapshotSpans int // spans the snapshot brought
	Streamed      int // spans the stream brought
	Frame         Frame
	Stages        *Breakdown
}

// AttachResult is how an attachment went.
type AttachResult struct {
	Progress
	Snapshot SnapshotInfo
	// Attached and Cutoff bound the stream: every span that ended in
	// between was received unless counted in Final.Dropped.
	Attached, Cutoff time.Time
	Final            Frame
}

// Attach takes the endpoint's snapshot into sink, then (unless
// SnapshotOnly) streams the spans that end from then on into it until For
// has passed or ctx ends; then it detaches cleanly (the endpoint sends the
// spans still on their way and a final frame) and returns. The program is
// left as it was: the stream's tap is removed when it ends, however it
// ends.
func Attach(ctx context.Context, c *Client, sink Sink, o AttachOptions) (*AttachResult, error) {
	res := &AttachResult{Progress: Progress{Stages: NewBreakdown()}}
	report := func() {
		if o.Progress != nil {
			o.Progress(&res.Progress)
		}
	}
	// takeSnapshot fetches the snapshot and hands it to store, which
	// writes it to the sink.
	takeSnapshot := func(ctx context.Context, before time.Time, store func(*coltracepb.ExportTraceServiceRequest, otlpconv.Batch) error) error {
		req, info, err := c.Snapshot(ctx, -1)
		if err != nil {
			return err
		}
		res.Snapshot = info
		if !before.IsZero() {
			// Spans that ended after the stream attached come through it.
			req = keepEndedBefore(req, before)
		}
		b := otlpconv.FromResourceSpans(req.ResourceSpans)
		if len(b.Spans) > 0 {
			if err := store(req, b); err != nil {
				return err
			}
		}
		res.SnapshotSpans = len(b.Spans)
		res.Stages.Add(b.Spans)
		report()
		return nil
	}
	if o.SnapshotOnly {
		return res, takeSnapshot(ctx, time.Time{}, func(req *coltracepb.ExportTraceServiceRequest, b otlpconv.Batch) error {
			if err := sink.Write(ctx, req, b); err != nil {
				return fmt.Errorf("cannot store the snapshot: %w", err)
			}
			return nil
		})
	}

	// The stream runs on its own context: when ctx ends we ask the
	// endpoint to detach and read on until its final frame.
	streamCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	watched := make(chan struct{})
	defer close(watched)
	go func() {
		select {
		case <-watched:
			return
		case <-ctx.Done():
		}
		dctx, dcancel := context.WithTimeout(streamCtx, time.Second*5)
		_ = c.Detach(dctx) // if it fails, the timeout below ends the stream
		dcancel()
		t := time.NewTimer(cmpOr(o.DetachTimeout, 10*time.Second))
		defer t.Stop()
		select {
		case <-watched:
		case <-t.C:
			cancel()
		}
	}()
	// The snapshot is written while the stream is read, so that a slow
	// sink does not make the program drop streamed spans meanwhile.
	snapStored := make(chan error, 1)
	snapStored <- nil
	final, err := c.Stream(streamCtx, o.For, func(f Frame, req *coltracepb.ExportTraceServiceRequest) error {
		res.Frame = f
		if f.Seq == 1 {
			res.Attached = f.Attached
			return takeSnapshot(streamCtx, f.Attached, func(req *coltracepb.ExportTraceServiceRequest, b otlpconv.Batch) error {
				<-snapStored
				go func() {
					if err := sink.Write(streamCtx, req, b); err != nil {
						snapStored <- fmt.Errorf("cannot store the snapshot: %w", err)
						return
					}
					snapStored <- nil
				}()
				return nil
			})
		}
		if req != nil {
			b := otlpconv.FromResourceSpans(req.ResourceSpans)
			if err := sink.Write(streamCtx, req, b); err != nil {
				return fmt.Errorf("cannot store streamed spans: %w", err)
			}
			res.Streamed += len(b.Spans)
			res.Stages.Add(b.Spans)
		}
		report()
		return nil
	})
	res.Final, res.Cutoff = final, final.Cutoff
	if serr := <-snapStored; err == nil {
		err = serr
	}
	if err != nil {
		return res, err
	}
	if uint64(res.Streamed) != final.Sent {
		return res, fmt.Errorf("the endpoint sent %d spans but %d arrived", final.Sent, res.Streamed)
	}
	return res, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// keepEndedBefore drops the spans of req that ended at or after t (and
// empties groups left without spans).
func keepEndedBefore(req *coltracepb.ExportTraceServiceRequest, t time.Time) *coltracepb.ExportTraceServiceRequest {
	limit := uint64(t.UnixNano())
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			kept := ss.Spans[:0]
			for _, sp := range ss.Spans {
				if sp.EndTimeUnixNano < limit {
					kept = append(kept, sp)
				}
			}
			ss.Spans = kept
		}
	}
	return req
}
