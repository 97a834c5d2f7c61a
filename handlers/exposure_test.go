package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stagescope/stagescope/handlers"
)

// DNS rebinding: a page whose name now resolves to 127.0.0.1 sends its own
// name as Host. Only IP literals, localhost and the names the server was
// given are answered; state-changing requests from another origin are
// refused.
func TestHostAndOriginGuard(t *testing.T) {
	s := newSeeded(t, handlers.WithAllowedHosts("stagescope.internal"))
	for host, want := range map[string]int{
		"attacker.example:7318":    http.StatusMisdirectedRequest,
		"attacker.example":         http.StatusMisdirectedRequest,
		"127.0.0.1:7318":           http.StatusOK,
		"[::1]:7318":               http.StatusOK,
		"10.1.2.3":                 http.StatusOK,
		"localhost:7318":           http.StatusOK,
		"LOCALHOST.":               http.StatusOK,
		"stagescope.internal:7318": http.StatusOK,
		"Stagescope.Internal":      http.StatusOK,
	} {
		for _, path := range []string{"/api/health", "/api/traces", "/"} {
			code, _, body := s.do(http.MethodGet, path, nil, "Host", host)
			if code != want {
				t.Errorf("GET %s with Host %q: %d %.200s, want %d", path, host, code, body, want)
			}
			if want == http.StatusMisdirectedRequest && !strings.Contains(string(body), "--allow-host") {
				t.Errorf("421 does not say how to allow the host: %s", body)
			}
		}
	}
	code, _, body := s.do(http.MethodPost, "/api/session", strings.NewReader(`{"token":"x"}`), "Content-Type", "application/json", "Origin", "http://attacker.example")
	if code != http.StatusForbidden || !strings.Contains(string(body), "cross-origin") {
		t.Errorf("cross-origin POST: %d %s", code, body)
	}
	code, _, body = s.do(http.MethodPost, "/v1/traces", strings.NewReader("{}"), "Content-Type", "application/json", "Origin", "null")
	if code != http.StatusForbidden {
		t.Errorf("POST from an opaque origin: %d %s", code, body)
	}
	if code, _, body := s.do(http.MethodPost, "/api/session", strings.NewReader(`{"token":"x"}`), "Content-Type", "application/json",
		"Origin", strings.TrimSuffix(s.ts.URL, "/")); code != http.StatusOK {
		t.Errorf("same-origin POST: %d %s", code, body)
	}
}

// Each sign-in gets its own session; wrong tokens are throttled per
// address; HEAD answers wherever GET does.
func TestSessionsAreIndividualAndSignInIsThrottled(t *testing.T) {
	s := newSeeded(t, handlers.WithToken(token))
	signIn := func(tok string) (int, http.Header) {
		code, h, _ := s.do(http.MethodPost, "/api/session", strings.NewReader(`{"token":"`+tok+`"}`), "Content-Type", "application/json")
		return code, h
	}
	var cookies []string
	for range 2 {
		code, h := signIn(token)
		if code != http.StatusOK {
			t.Fatalf("sign-in: %d", code)
		}
		cookies = append(cookies, strings.SplitN(h.Get("Set-Cookie"), ";", 2)[0])
	}
	if cookies[0] == cookies[1] {
		t.Fatalf("two sign-ins got the same session: %s", cookies[0])
	}
	for _, ck := range cookies {
		if code, _, _ := s.do(http.MethodGet, "/api/traces?limit=1", nil, "Cookie", ck); code != http.StatusOK {
			t.Fatalf("session %s: %d", ck, code)
		}
	}
	for i := range 5 {
		if code, _ := signIn("wrong"); code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d", i, code)
		}
	}
	code, h := signIn(token) // even the right token waits now
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("sign-in after 5 wrong tokens: %d, Retry-After %q", code, h.Get("Retry-After"))
	}
	// Bearer requests are not sign-ins and are not throttled.
	if code, _, _ := s.do(http.MethodGet, "/api/traces?limit=1", nil, bearer(token)...); code != http.StatusOK {
		t.Fatalf("bearer after throttling: %d", code)
	}
	for _, path := range []string{"/api/health", "/api/traces", "/api/stages", "/api/report", "/api/runs", "/api/services", "/metrics", "/"} {
		code, _, body := s.do(http.MethodHead, path, nil, bearer(token)...)
		if code != http.StatusOK || len(body) != 0 {
			t.Errorf("HEAD %s: %d (%d bytes)", path, code, len(body))
		}
	}
}
