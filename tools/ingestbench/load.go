package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Defaults of the load.
const (
	DefaultClients         = 8
	DefaultSpansPerRequest = 1000
	DefaultTemplates       = 16
	// defaultRetryAfter is the wait when a 429/503 carries no Retry-After.
	defaultRetryAfter = time.Second
	// maxTransportErrors is how many connection failures in a row a client
	// tolerates (each followed by a one-second pause) before the run fails.
	maxTransportErrors = 5
)

// loadOptions say how much to send and how.
type loadOptions struct {
	clients        int
	spans          int64 // total; rounded up to whole requests
	interval       int64 // spans per reported interval
	requestTimeout time.Duration
	progressEvery  time.Duration
}

// interval is the rate over one slice of the run.
type interval struct {
	UpTo     int64         `json:"up_to_spans"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Rate     float64       `json:"spans_per_s"`
	RSSBytes int64         `json:"rss_bytes"`
	// CPUPerM is the target's CPU seconds per million spans in this
	// interval: unlike the rate, it hardly moves when other processes
	// take the machine's cores, so it shows whether the write cost grows.
	CPUPerM float64 `json:"target_cpu_s_per_million"`
}

// loadResult is what one run of the generator against one target saw.
type loadResult struct {
	Spans          int64         `json:"spans_acked"`
	Requests       int64         `json:"requests"`
	Retries        int64         `json:"retries"`
	RetryWait      time.Duration `json:"retry_wait_ns"`  // summed over clients
	Rejected       int64         `json:"rejected_spans"` // OTLP partial success
	AckElapsed     time.Duration `json:"ack_elapsed_ns"` // first send to last ack
	VisibleElapsed time.Duration `json:"visible_elapsed_ns"`
	Intervals      []interval    `json:"intervals"`
	RequestBytes   int64         `json:"request_bytes"`
	lastIDs        []string      // last trace of each client's last request
	firstID        string        // first trace of request 0
	start          time.Time
}

// loader sends the generator's requests to one URL from several clients.
type loader struct {
	gen    *generator
	url    string
	opts   loadOptions
	client *http.Client
	rss    *rssSampler
	log    func(format string, a ...any)

	total     uint64 // requests to send
	nextReq   atomic.Uint64
	acked     atomic.Int64
	requests  atomic.Int64
	retries   atomic.Int64
	retryWait atomic.Int64
	rejected  atomic.Int64
	sentBytes atomic.Int64

	mu        sync.Mutex
	intervals []interval
	lastMark  time.Duration
	lastSpans int64
	lastCPU   time.Duration
	start     time.Time
}

// runLoad sends opts.spans spans and returns when every request was
// acknowledged (or the first unrecoverable error).
func runLoad(ctx context.Context, gen *generator, url string, opts loadOptions, rss *rssSampler, logf func(string, ...any)) (*loadResult, error) {
	perReq := int64(gen.spansPerReq)
	l := &loader{
		gen: gen, url: url, opts: opts, rss: rss, log: logf,
		total: uint64((opts.spans + perReq - 1) / perReq),
		client: &http.Client{Timeout: opts.requestTimeout, Transport: &http.Transport{
			MaxIdleConns: opts.clients * 2, MaxIdleConnsPerHost: opts.clients * 2,
			DisableCompression: true, IdleConnTimeout: time.Minute,
		}},
	}
	defer l.client.CloseIdleConnections()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	l.start = time.Now()
	if rss != nil {
		l.lastCPU, _ = readCPU(rss.pid)
	}
	lastIDs := make([]string, opts.clients)
	lastSeq := make([]int64, opts.clients)
	var firstID string
	var wg sync.WaitGroup
	for c := range opts.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lastSeq[c] = -1
			var buf []byte
			for ctx.Err() == nil {
				n := l.nextReq.Add(1) - 1
				if n >= l.total {
					return
				}
				req := l.gen.fill(buf, n)
				buf = req.body
				if err := l.send(ctx, req); err != nil {
					cancel(err)
					return
				}
				if int64(n) > lastSeq[c] {
					lastSeq[c], lastIDs[c] = int64(n), hex.EncodeToString(req.lastID[:])
				}
				if n == 0 {
					firstID = hex.EncodeToString(req.firstID[:])
				}
			}
		}()
	}
	stopProgress := l.progress(ctx)
	wg.Wait()
	stopProgress()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	res := &loadResult{
		Spans: l.acked.Load(), Requests: l.requests.Load(), Retries: l.retries.Load(),
		RetryWait: time.Duration(l.retryWait.Load()), Rejected: l.rejected.Load(),
		AckElapsed: time.Since(l.start), Intervals: l.intervals, RequestBytes: l.sentBytes.Load(),
		firstID: firstID, start: l.start,
	}
	for _, id := range lastIDs {
		if id != "" {
			res.lastIDs = append(res.lastIDs, id)
		}
	}
	return res, nil
}

// send posts one request until it is acknowledged, honouring 429/503 and
// their Retry-After.
func (l *loader) send(ctx context.Context, req request) error {
	transportErrors := 0
	for {
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(req.body))
		if err != nil {
			return err
		}
		hr.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := l.client.Do(hr)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if transportErrors++; transportErrors > maxTransportErrors {
				return fmt.Errorf("request %d: %w", req.sequence, err)
			}
			l.log("request %d: %v; retrying in 1s", req.sequence, err)
			if err := sleepCtx(ctx, time.Second); err != nil {
				return err
			}
			continue
		}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 2 && rerr == nil:
			l.requests.Add(1)
			l.sentBytes.Add(int64(len(req.body)))
			var out coltracepb.ExportTraceServiceResponse
			if proto.Unmarshal(body, &out) == nil && out.PartialSuccess != nil {
				l.rejected.Add(out.PartialSuccess.RejectedSpans)
			}
			l.ack(int64(req.spans))
			return nil
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
			wait := retryAfter(resp.Header.Get("Retry-After"), time.Now())
			l.retries.Add(1)
			l.retryWait.Add(int64(wait))
			if err := sleepCtx(ctx, wait); err != nil {
				return err
			}
		default:
			if rerr != nil {
				return fmt.Errorf("request %d: reading the answer: %w", req.sequence, rerr)
			}
			return fmt.Errorf("request %d: %s: %s", req.sequence, resp.Status, excerpt(body))
		}
	}
}

// ack counts spans and closes an interval when a boundary is crossed.
func (l *loader) ack(spans int64) {
	total := l.acked.Add(spans)
	iv := l.opts.interval
	if iv <= 0 || total/iv == (total-spans)/iv {
		return
	}
	now := time.Since(l.start)
	var rss int64
	var cpu time.Duration
	if l.rss != nil {
		rss = l.rss.sample()
		cpu, _ = readCPU(l.rss.pid)
	}
	l.mu.Lock()
	d := now - l.lastMark
	rate := float64(total-l.lastSpans) / d.Seconds()
	var cpuPerM float64
	if cpu > 0 {
		cpuPerM = (cpu - l.lastCPU).Seconds() / float64(total-l.lastSpans) * 1e6
	}
	l.intervals = append(l.intervals, interval{UpTo: total, Elapsed: now, Rate: rate, RSSBytes: rss, CPUPerM: cpuPerM})
	l.lastMark, l.lastSpans, l.lastCPU = now, total, cpu
	l.mu.Unlock()
	l.log("%s spans: %s spans/s in this interval, %s overall, target CPU %.1f s per 1M spans, RSS %s",
		count(total), count(int64(rate)), count(int64(float64(total)/now.Seconds())), cpuPerM, mib(rss))
}

// progress prints a line every progressEvery between intervals, so that a
// long interval still shows life.
func (l *loader) progress(ctx context.Context) func() {
	if l.opts.progressEvery <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(l.opts.progressEvery)
		defer t.Stop()
		prev, prevAt := int64(0), time.Now()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				n := l.acked.Load()
				var rss int64
				if l.rss != nil {
					rss, _ = l.rss.current()
				}
				l.log("… %s spans acked, %s spans/s over the last %v, %d retries, RSS %s",
					count(n), count(int64(float64(n-prev)/now.Sub(prevAt).Seconds())), l.opts.progressEvery, l.retries.Load(), mib(rss))
				prev, prevAt = n, now
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return defaultRetryAfter
	}
	if s, err := strconv.Atoi(h); err == nil {
		if s < 0 {
			return defaultRetryAfter
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
		return 0
	}
	return defaultRetryAfter
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

func excerpt(b []byte) string {
	const n = 300
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// waitVisible polls until every id can be read back through the target's
// query API, and returns how long it took.
func waitVisible(ctx context.Context, t *target, ids []string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	pending := append([]string(nil), ids...)
	for len(pending) > 0 {
		id := pending[0]
		code, _, err := get(ctx, client, t.traceURL(id))
		if err == nil && code == http.StatusOK {
			pending = pending[1:]
			continue
		}
		if time.Since(start) > timeout {
			if err == nil {
				err = fmt.Errorf("status %d", code)
			}
			return time.Since(start), fmt.Errorf("trace %s not readable %v after the last ack: %w", id, timeout, err)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// get fetches a URL and returns status, body size and error.
func get(ctx context.Context, c *http.Client, url string) (int, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return resp.StatusCode, n, err
	}
	return resp.StatusCode, n, nil
}
