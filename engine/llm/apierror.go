package llm

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxSnippet bounds how much of a response body an error quotes.
const maxSnippet = 512

// APIError is a non-2xx answer from an OpenAI-compatible server.
type APIError struct {
	StatusCode int
	// Body is the start of the response body, for the error message.
	Body string
	// Retry is the delay the server asked for (Retry-After or
	// retry-after-ms), 0 if none.
	Retry time.Duration
}

func (e *APIError) Error() string {
	return fmt.Sprintf("chat completion failed: HTTP %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// RetryAfter implements retry.RetryAfter.
func (e *APIError) RetryAfter() time.Duration { return e.Retry }

// Retryable reports whether the status is worth another attempt: 408, 409,
// 429 and 5xx.
func (e *APIError) Retryable() bool {
	switch {
	case e.StatusCode == http.StatusRequestTimeout, e.StatusCode == http.StatusConflict, e.StatusCode == http.StatusTooManyRequests:
		return true
	}
	return e.StatusCode >= 500
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > maxSnippet {
		s = s[:maxSnippet] + "…"
	}
	return s
}

// parseRetryAfter reads the delay a server asks for: OpenAI's
// retry-after-ms (milliseconds, may be fractional) first, then the standard
// Retry-After, in seconds or as an HTTP date.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
