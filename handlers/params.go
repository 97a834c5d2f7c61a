package handlers

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/spans"
)

// Bounds of query parameters.
const (
	// MaxPageLimit is the largest page of /api/traces.
	MaxPageLimit = 1000
	// maxTextParam bounds free-text parameters (name, service, attribute key).
	maxTextParam = 256
	// maxAttrValue bounds the value of an attribute filter.
	maxAttrValue = 1024
	// maxDuration bounds duration parameters.
	maxDuration = 365 * 24 * time.Hour
)

// timeRange names the times a parameter may take (spans.EarliestTime to
// spans.LatestTime), for error messages.
var timeRange = fmt.Sprintf("times run from %s to %s (Unix milliseconds 0 to %d)",
	spans.EarliestTime.Format(time.RFC3339), spans.LatestTime.Truncate(time.Second).Format(time.RFC3339), spans.LatestTime.UnixMilli())

// params reads and validates the query string of one request. Unknown and
// repeated parameters are errors, so a typo never silently widens a search.
type params struct {
	vals url.Values
	now  time.Time
}

func parseParams(c echo.Context, allowed ...string) (*params, error) {
	vals := c.QueryParams()
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return nil, badRequest("unknown parameter %q: this endpoint takes no parameters", k)
			}
			return nil, badRequest("unknown parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
		if len(vals[k]) > 1 {
			return nil, badRequest("parameter %q given %d times; give it once", k, len(vals[k]))
		}
	}
	return &params{vals: vals, now: time.Now()}, nil
}

func (p *params) raw(name string) string { return p.vals.Get(name) }

// text returns a free-text parameter: valid UTF-8, no control characters,
// at most max bytes.
func (p *params) text(name string, max int) (string, error) {
	v := p.raw(name)
	if v == "" {
		return "", nil
	}
	if len(v) > max {
		return "", badRequest("parameter %q is too long: %d bytes, at most %d", name, len(v), max)
	}
	if !utf8.ValidString(v) {
		return "", badRequest("parameter %q is not valid UTF-8", name)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return "", badRequest("parameter %q contains a control character", name)
		}
	}
	return v, nil
}

// time parses a time in any of spans.TimeForms, within spans.EarliestTime
// and spans.LatestTime (the store keeps Unix nanoseconds in an int64); the
// command line reads times the same way.
func (p *params) time(name string) (time.Time, error) {
	v := p.raw(name)
	if strings.TrimSpace(v) == "" {
		return time.Time{}, nil
	}
	t, err := spans.ParseTime(v, p.now)
	if err != nil {
		return time.Time{}, badRequest("parameter %q: %v", name, err)
	}
	return t, nil
}

// window reads from and to and checks their order. An open end is now, so a
// from in the future is an error too: nothing can have started there.
func (p *params) window(fromName, toName string) (from, to time.Time, err error) {
	if from, err = p.time(fromName); err != nil {
		return
	}
	if to, err = p.time(toName); err != nil {
		return
	}
	switch {
	case !from.IsZero() && !to.IsZero() && from.After(to):
		err = badRequest("parameter %q (%s) is after %q (%s)", fromName, from.UTC().Format(time.RFC3339Nano), toName, to.UTC().Format(time.RFC3339Nano))
	case !from.IsZero() && to.IsZero() && from.After(p.now):
		err = badRequest("parameter %q (%s) is in the future (now is %s, the default of %q): give a from before %q", fromName,
			from.UTC().Format(time.RFC3339Nano), p.now.UTC().Format(time.RFC3339), toName, toName)
	}
	return
}

// duration parses a Go duration ("250ms", "1.5s") or a plain number of
// milliseconds; it must be positive and below a year.
func (p *params) duration(name string) (time.Duration, error) {
	v := strings.TrimSpace(p.raw(name))
	if v == "" {
		return 0, nil
	}
	var d time.Duration
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > float64(maxDuration/time.Millisecond) {
			return 0, badRequest("parameter %q: %q is out of range (0 to one year)", name, v)
		}
		d = time.Duration(f * float64(time.Millisecond))
	} else {
		d, err = time.ParseDuration(v)
		if err != nil {
			return 0, badRequest("parameter %q: %q is not a duration (want 250ms, 1.5s, 2m or a number of milliseconds)", name, v)
		}
	}
	if d < 0 || d > maxDuration {
		return 0, badRequest("parameter %q: %q is out of range (0 to one year)", name, v)
	}
	return d, nil
}

// service reads a service name (OTel service.name): free text without
// control characters or surrounding spaces. A service that has no traces is
// not an error; it selects nothing.
func (p *params) service(name string) (string, error) {
	v, err := p.text(name, maxTextParam)
	if err != nil {
		return "", err
	}
	if v != "" && strings.TrimSpace(v) != v {
		return "", badRequest("parameter %q: service %q has leading or trailing spaces", name, truncate(v, 64))
	}
	return v, nil
}

// stage parses a stage name.
func (p *params) stage(name string) (string, error) {
	v := p.raw(name)
	if v == "" {
		return "", nil
	}
	if _, err := spans.ParseStage(v); err != nil {
		return "", badRequest("parameter %q: unknown stage %q (want one of %s)", name, truncate(v, 64), stageList())
	}
	return v, nil
}

func stageList() string {
	var names []string
	for _, s := range spans.AllStages() {
		names = append(names, s.String())
	}
	return strings.Join(names, ", ")
}

// status parses a status filter: ok, error, dropped or unset.
func (p *params) status(name string) (string, error) {
	v := p.raw(name)
	switch v {
	case "", "ok", "error", "dropped", "unset", collector.StatusWithErrors:
		return v, nil
	}
	return "", badRequest("parameter %q: unknown status %q (want ok, error, dropped, unset or %s)", name, truncate(v, 64), collector.StatusWithErrors)
}

// attr parses key=value.
func (p *params) attr(name string) (string, error) {
	v := p.raw(name)
	if v == "" {
		return "", nil
	}
	key, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(key) == "" {
		return "", badRequest("parameter %q: %q is not key=value", name, truncate(v, 64))
	}
	if len(key) > maxTextParam || len(val) > maxAttrValue {
		return "", badRequest("parameter %q is too long (key at most %d bytes, value at most %d)", name, maxTextParam, maxAttrValue)
	}
	if _, err := p.text(name, maxTextParam+1+maxAttrValue); err != nil {
		return "", err
	}
	return v, nil
}

// limit parses a page size in [1, max]; def when absent.
func (p *params) limit(name string, def, max int) (int, error) {
	v := p.raw(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, badRequest("parameter %q: %q is not a whole number from 1 to %d", name, truncate(v, 32), max)
	}
	return n, nil
}

// cursor checks the form of a page cursor: <start ns>-<32 hex digits>.
func (p *params) cursor(name string) (string, error) {
	v := p.raw(name)
	if v == "" {
		return "", nil
	}
	if collector.CheckCursor(v) != nil {
		return "", badRequest("parameter %q: %q is not a cursor returned by this API (next_cursor)", name, truncate(v, 64))
	}
	return v, nil
}

// sort reads a trace list's order: a collector.SortKeys key, with a
// leading "-" for descending.
func (p *params) sort(name string) (string, error) {
	v := p.raw(name)
	if v == "" {
		return "", nil
	}
	if _, ok := collector.SortKeys[strings.TrimPrefix(v, "-")]; !ok {
		return "", badRequest("parameter %q: %q is not an order; want start, duration or spans, with a leading - for descending", name, truncate(v, 64))
	}
	return v, nil
}

// traceID parses a 32-hex-digit trace ID.
func traceIDParam(v string) (spans.TraceID, error) {
	id, err := spans.ParseTraceID(v)
	if err != nil {
		return spans.TraceID{}, badRequest("trace id %q is invalid: want 32 hex digits, not all zero", truncate(v, 64))
	}
	return id, nil
}

// float parses a number in [lo, hi]; def when absent.
func (p *params) float(name string, def, lo, hi float64) (float64, error) {
	v := p.raw(name)
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < lo || f > hi {
		return 0, badRequest("parameter %q: %q is not a number from %g to %g", name, truncate(v, 32), lo, hi)
	}
	return f, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
