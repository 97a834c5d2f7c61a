package jaeger

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/spans"
)

// fetchKey names one window of one service ("" for all).
type fetchKey struct {
	service  string
	from, to int64 // Unix minutes, to exclusive
}

// fetch reads the window [from, to] of service ("" for every service),
// aligned to whole minutes (an open end is now, an open or far start the
// window's reach), from the cache when a fresh entry covers it, else
// through one shared fetch.
func (s *Source) fetch(ctx context.Context, service string, from, to time.Time) (view, error) {
	now := time.Now()
	if to.IsZero() || to.After(now) {
		to = now
	}
	// A window reaching further back than maxWindow, or with no start, is
	// read from the reach on: Jaeger may hold older traces, so such a
	// window is never complete.
	clamped := false
	if reach := to.Add(-s.cfg.maxWindow); from.IsZero() || from.Before(reach) {
		from, clamped = reach, true
	}
	k := fetchKey{service: service, from: from.Unix() / 60, to: (to.Unix() + 59) / 60}
	if k.to <= k.from {
		k.to = k.from + 1
	}
	f, err := s.cache.get(ctx, k, func(shared context.Context) (*fetched, error) {
		fctx, cancel := context.WithTimeout(shared, s.cfg.fetchTimeout)
		defer cancel()
		f, err := s.read(fctx, k, clamped)
		if err != nil {
			return nil, s.unavailable(shared, fctx, err)
		}
		return f, nil
	})
	if err != nil {
		return view{}, err
	}
	return view{fetched: f, from: time.Unix(k.from*60, 0).UTC(), to: time.Unix(k.to*60, 0).UTC()}, nil
}

// read runs the queries of one window: its slices times its services,
// at most cfg.concurrency at a time; the first failure cancels the rest.
func (s *Source) read(ctx context.Context, k fetchKey, clamped bool) (*fetched, error) {
	f := &fetched{from: time.Unix(k.from*60, 0).UTC(), to: time.Unix(k.to*60, 0).UTC(), clamped: clamped, service: k.service}
	services := []string{k.service}
	if k.service == "" {
		all, err := s.qc.Services(ctx)
		if err != nil {
			return nil, err
		}
		if len(all) > s.cfg.maxServices {
			all, f.servicesCapped = all[:s.cfg.maxServices], true
		}
		services = all
	}
	f.services = len(services)
	if len(services) == 0 {
		return f, nil
	}
	minutes := k.to - k.from
	f.slices = int(min(int64(s.cfg.slices), minutes))
	f.perQuery = max(s.cfg.maxTraces/(f.slices*len(services)), 1)
	width := f.to.Sub(f.from) / time.Duration(f.slices)
	type result struct {
		traces []Trace
	}
	results := make([]result, f.slices*len(services))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.concurrency)
	for i, svc := range services {
		for j := range f.slices {
			a := f.from.Add(time.Duration(j) * width)
			b := a.Add(width)
			if j == f.slices-1 {
				b = f.to
			}
			slot := &results[i*f.slices+j]
			g.Go(func() error {
				s.cache.queries.Add(1)
				ts, err := s.qc.FindTraces(gctx, Query{Service: svc, From: a, To: b.Add(-time.Nanosecond), Limit: f.perQuery})
				slot.traces = ts
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	f.queries = len(results)
	lo, hi := f.from, f.to
	seen := map[spans.TraceID]bool{}
	for _, r := range results {
		if len(r.traces) >= f.perQuery {
			f.full++
		}
		for _, t := range r.traces {
			id := t.ID()
			if id.IsZero() || seen[id] {
				continue
			}
			seen[id] = true
			ct := &collector.Trace{Summary: collector.SummarizeTrace(t), Trace: t}
			// Jaeger matches a trace by any span's start; a window holds
			// the traces that started in it, as in the store.
			if ct.Summary.Start.Before(lo) || !ct.Summary.Start.Before(hi) {
				continue
			}
			f.traces = append(f.traces, ct)
		}
	}
	slices.SortFunc(f.traces, func(a, b *collector.Trace) int {
		return cmp.Or(a.Summary.Start.Compare(b.Summary.Start), slices.Compare(a.Summary.TraceID[:], b.Summary.TraceID[:]))
	})
	return f, nil
}

// fetchCache keeps recently fetched windows for ttl, bounded in windows
// and traces, and lets concurrent requests for one window share its fetch.
// A shared fetch runs on its own context, cancelled when every request
// waiting for it has gone (a browser closed) or the source is closed.
type fetchCache struct {
	ttl              time.Duration
	maxEntries       int
	maxTraces        int
	mu               sync.Mutex
	entries          map[fetchKey]*flight
	closed           bool
	fetches, queries atomic.Int64
	hits             atomic.Int64
}

// flight is one fetch, running or done.
type flight struct {
	done    chan struct{}
	val     *fetched
	err     error
	at      time.Time // when it finished
	waiters int
	cancel  context.CancelFunc
}

func (f *flight) finished() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

func newFetchCache(ttl time.Duration, entries, traces int) *fetchCache {
	return &fetchCache{ttl: ttl, maxEntries: entries, maxTraces: traces, entries: map[fetchKey]*flight{}}
}

func (c *fetchCache) stats() SourceStats {
	return SourceStats{Fetches: c.fetches.Load(), Queries: c.queries.Load(), CacheHits: c.hits.Load()}
}

// errSourceClosed is returned after Close.
var errSourceClosed = errors.New("jaeger source is closed")

// get returns k's window: a fresh cached one covering it, the fetch of
// it under way, or a new fetch by fn.
func (c *fetchCache) get(ctx context.Context, k fetchKey, fn func(context.Context) (*fetched, error)) (*fetched, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errSourceClosed
	}
	now := time.Now()
	f := c.entries[k]
	if f != nil && f.finished() && !c.fresh(f, now) {
		delete(c.entries, k)
		f = nil
	}
	if f == nil {
		f = c.covering(k, now)
	}
	if f != nil {
		c.hits.Add(1)
	} else {
		fctx, cancel := context.WithCancel(context.Background())
		f = &flight{done: make(chan struct{}), cancel: cancel}
		c.entries[k] = f
		c.fetches.Add(1)
		go func() {
			v, err := fn(fctx)
			c.mu.Lock()
			f.val, f.err, f.at = v, err, time.Now()
			if err != nil && c.entries[k] == f {
				delete(c.entries, k) // the next request tries again
			}
			close(f.done)
			c.evict()
			c.mu.Unlock()
			cancel()
		}()
	}
	f.waiters++
	c.mu.Unlock()
	select {
	case <-f.done:
		c.mu.Lock()
		f.waiters--
		c.mu.Unlock()
		return f.val, f.err
	case <-ctx.Done():
		c.mu.Lock()
		f.waiters--
		if f.waiters == 0 && !f.finished() {
			f.cancel() // nobody waits for it any more
			if c.entries[k] == f {
				delete(c.entries, k)
			}
		}
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// fresh reports whether a finished flight may still be used.
func (c *fetchCache) fresh(f *flight, now time.Time) bool {
	return f.err == nil && c.ttl > 0 && now.Sub(f.at) < c.ttl
}

// covering returns a fresh finished window of the same service that holds
// k (the narrowest), so a step of a time series reuses its window.
func (c *fetchCache) covering(k fetchKey, now time.Time) *flight {
	var best *flight
	var bestWidth int64
	for ek, f := range c.entries {
		if ek.service != k.service || ek.from > k.from || ek.to < k.to || !f.finished() || !c.fresh(f, now) {
			continue
		}
		if w := ek.to - ek.from; best == nil || w < bestWidth {
			best, bestWidth = f, w
		}
	}
	return best
}

// evict drops stale windows, then the oldest finished ones while the
// cache holds too many windows or traces. Fetches under way stay.
func (c *fetchCache) evict() {
	now := time.Now()
	traces := 0
	var done []fetchKey
	for k, f := range c.entries {
		if !f.finished() {
			continue
		}
		if !c.fresh(f, now) {
			delete(c.entries, k)
			continue
		}
		traces += len(f.val.traces)
		done = append(done, k)
	}
	slices.SortFunc(done, func(a, b fetchKey) int { return c.entries[a].at.Compare(c.entries[b].at) })
	for _, k := range done {
		if len(c.entries) <= c.maxEntries && traces <= c.maxTraces {
			break
		}
		traces -= len(c.entries[k].val.traces)
		delete(c.entries, k)
	}
}

// close cancels every fetch and refuses new ones.
func (c *fetchCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for k, f := range c.entries {
		f.cancel()
		delete(c.entries, k)
	}
}
