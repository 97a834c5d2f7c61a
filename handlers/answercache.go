package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// answerCacheLimit is how many analysis answers (reports, comparisons) the
// server keeps: a few tens of kilobytes each.
const answerCacheLimit = 32

// answerCache keeps the latest answers of the analyses by their question:
// the endpoint, its parameters with each window rounded out to whole
// minutes as the sample aligns it (collector.AlignWindow), the minute under
// way when a window reaches it, and a fingerprint of what the rollups hold
// for each window. An answer is thus served again only while the spans of
// its windows are the ones it was computed from: a span arriving in a
// window, or retention taking one, changes the fingerprint.
type answerCache struct {
	mu      sync.Mutex
	entries map[string][]byte
	order   []string // oldest first
}

func newAnswerCache() *answerCache { return &answerCache{entries: map[string][]byte{}} }

func (c *answerCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.entries[key]
	return b, ok
}

func (c *answerCache) put(key string, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok {
		return
	}
	if len(c.order) >= answerCacheLimit {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
	c.entries[key] = body
	c.order = append(c.order, key)
}

// windowKey describes one window of a question for the cache: its ends
// rounded out to whole minutes, the minute under way when the window is
// open or reaches it, and the fingerprint of the rollups over it.
func (s *Server) windowKey(ctx context.Context, from, to time.Time, run string, now time.Time) (string, error) {
	current := now.Truncate(time.Minute)
	lo, hi := time.Time{}, time.Time{}
	if !from.IsZero() {
		lo = from.Truncate(time.Minute)
	}
	if !to.IsZero() {
		hi = to.Truncate(time.Minute)
		if !hi.Equal(to) {
			hi = hi.Add(time.Minute)
		}
	}
	open := ""
	if to.IsZero() || !hi.Before(current) {
		open = fmt.Sprint(current.Unix())
	}
	// The rollups of the window's minutes: every span that starts in them
	// counts, so a late span or a retention pass changes the sums.
	last := hi
	if !last.IsZero() {
		last = last.Add(-time.Nanosecond)
	}
	rows, err := s.src.StageBreakdown(ctx, lo, last, run)
	if err != nil {
		return "", err
	}
	var count, errs, total, self int64
	for _, r := range rows {
		count += r.Count
		errs += r.Errors
		total += int64(r.Total)
		self += int64(r.Self)
	}
	return fmt.Sprintf("%d-%d|%s|%d/%d/%d/%d", lo.Unix(), hi.Unix(), open, count, errs, total, self), nil
}

// cacheKey is the cache key of an analysis question: the endpoint, its
// parameters less the windows', and windowKey of each window. ok is false
// when a window cannot be fingerprinted (the question is then answered
// without the cache, and its own error, if any, is reported by it).
func (s *Server) cacheKey(ctx context.Context, endpoint string, p *params, windows ...cacheWindow) (string, bool) {
	vals := url.Values{}
	for k, v := range p.vals {
		vals[k] = v
	}
	key := endpoint
	now := time.Now()
	for _, w := range windows {
		vals.Del(w.fromParam)
		vals.Del(w.toParam)
		wk, err := s.windowKey(ctx, w.from, w.to, w.run, now)
		if err != nil {
			return "", false
		}
		key += "|" + wk
	}
	return key + "?" + vals.Encode(), true
}

// cacheWindow is one window of a question and the parameters that set it.
type cacheWindow struct {
	fromParam, toParam string
	from, to           time.Time
	run                string
}

// cachedJSON answers from the cache when it holds key, else computes the
// answer, keeps it and sends it. An answer that failed is not kept.
func (s *Server) cachedJSON(c echo.Context, key string, ok bool, compute func() (any, error)) error {
	if ok {
		if b, hit := s.answers.get(key); hit {
			c.Response().Header().Set("X-Stagescope-Cache", "hit")
			return c.JSONBlob(http.StatusOK, b)
		}
	}
	v, err := compute()
	if err != nil {
		return err
	}
	b, err := jsonBody(v)
	if err != nil {
		return err
	}
	if ok {
		s.answers.put(key, b)
	}
	return c.JSONBlob(http.StatusOK, b)
}

// jsonBody encodes v as echo's JSON answers are encoded.
func jsonBody(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
