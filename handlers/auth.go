package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/handlers/bearer"
)

// SessionCookie is the cookie the dashboard gets for a valid token.
const SessionCookie = "stagescope_session"

// sessionLifetime is how long a dashboard session lasts.
const sessionLifetime = 12 * time.Hour

// Bounds of the sign-in: at most maxSessions live sessions (the oldest goes
// first), and after signInFailures wrong tokens from one address, that
// address waits signInLockout before it may try again.
const (
	maxSessions    = 1024
	signInFailures = 5
	signInLockout  = time.Minute
)

// auth checks bearer tokens in constant time and issues session cookies.
// Each sign-in gets its own random session id, valid until it expires on
// the server (the cookie's Max-Age is only a hint to the browser); sessions
// live in memory, so they end when the server restarts, and reveal nothing
// about the token.
type auth struct {
	token   bearer.Token
	enabled bool

	mu       sync.Mutex
	sessions map[string]time.Time // session id → expiry
	failures map[string]*signInFailuresOf
	now      func() time.Time
}

type signInFailuresOf struct {
	count int
	last  time.Time
}

func newAuth(token string) *auth {
	a := &auth{enabled: token != "", sessions: map[string]time.Time{}, failures: map[string]*signInFailuresOf{}, now: time.Now}
	a.token = bearer.New(token)
	return a
}

// tokenOK compares candidate with the token in constant time.
func (a *auth) tokenOK(candidate string) bool { return a.token.Match(candidate) }

// newSession issues a session id valid for sessionLifetime.
func (a *auth) newSession() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, exp := range a.sessions {
		if !now.Before(exp) {
			delete(a.sessions, k)
		}
	}
	if len(a.sessions) >= maxSessions {
		oldest, first := "", time.Time{}
		for k, exp := range a.sessions {
			if oldest == "" || exp.Before(first) {
				oldest, first = k, exp
			}
		}
		delete(a.sessions, oldest)
	}
	a.sessions[id] = now.Add(sessionLifetime)
	return id
}

func (a *auth) sessionOK(r *http.Request) bool {
	ck, err := r.Cookie(SessionCookie)
	if err != nil || len(ck.Value) != 64 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.sessions[ck.Value]
	if ok && !a.now().Before(exp) {
		delete(a.sessions, ck.Value)
		return false
	}
	return ok
}

// signInWait is how long the address must still wait before trying a
// token again (0: it may try now).
func (a *auth) signInWait(addr string) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.failures[addr]
	if f == nil || f.count < signInFailures {
		return 0
	}
	if wait := f.last.Add(signInLockout).Sub(a.now()); wait > 0 {
		return wait
	}
	delete(a.failures, addr) // served its time: a fresh start
	return 0
}

// signInFailed counts a wrong token from addr.
func (a *auth) signInFailed(addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.failures) >= 10*maxSessions {
		clear(a.failures) // a flood of addresses: forget rather than grow
	}
	f := a.failures[addr]
	if f == nil {
		f = &signInFailuresOf{}
		a.failures[addr] = f
	}
	f.count++
	f.last = a.now()
}

// open lists what needs no token: the dashboard's files, health, and the
// sign-in itself.
func open(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case p == "/api/health", p == "/api/session":
		return true
	case p == "/api/" || strings.HasPrefix(p, "/api/"), p == "/metrics", p == "/v1/traces", strings.HasPrefix(p, "/v1/"):
		return false
	}
	return true
}

// middleware rejects protected requests without a valid bearer token (or,
// for GET and HEAD, a session cookie) with 401.
func (a *auth) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if !a.enabled || open(r) {
			return next(c)
		}
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, tok, ok := strings.Cut(h, " ")
			if ok && strings.EqualFold(scheme, "Bearer") && a.tokenOK(strings.TrimSpace(tok)) {
				return next(c)
			}
			return unauthorized(c, "invalid bearer token")
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && a.sessionOK(r) {
			return next(c)
		}
		return unauthorized(c, "missing bearer token: send Authorization: Bearer <token>")
	}
}

func unauthorized(c echo.Context, msg string) error {
	c.Response().Header().Set("WWW-Authenticate", `Bearer realm="stagescope"`)
	return &apiError{status: http.StatusUnauthorized, msg: msg}
}

type sessionRequest struct {
	Token string `json:"token"`
}

// createSession handles POST /api/session {"token": "..."}: a valid token
// gets a session cookie of its own. After signInFailures wrong tokens an
// address must wait signInLockout (429 with Retry-After).
func (s *Server) createSession(c echo.Context) error {
	var req sessionRequest
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequest("body must be a JSON object {\"token\": \"...\"}")
	}
	if !s.auth.enabled {
		return c.JSON(http.StatusOK, map[string]any{"auth": false})
	}
	addr := c.RealIP()
	if host, _, err := net.SplitHostPort(c.Request().RemoteAddr); err == nil {
		addr = host // the peer, not a header it could forge
	}
	if wait := s.auth.signInWait(addr); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		return &apiError{status: http.StatusTooManyRequests, msg: fmt.Sprintf("too many wrong tokens from this address; try again in %d s", secs)}
	}
	if !s.auth.tokenOK(req.Token) {
		s.auth.signInFailed(addr)
		return unauthorized(c, "wrong token")
	}
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: s.auth.newSession(), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.Request().TLS != nil,
		MaxAge: int(sessionLifetime / time.Second),
	})
	return c.JSON(http.StatusOK, map[string]any{"auth": true})
}
