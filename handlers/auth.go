package handlers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// SessionCookie is the cookie the dashboard gets for a valid token.
const SessionCookie = "stagescope_session"

// sessionLifetime is how long a dashboard session lasts.
const sessionLifetime = 12 * time.Hour

// auth checks bearer tokens in constant time and issues session cookies.
// Sessions are an HMAC under a key drawn at start, so they end when the
// server restarts and reveal nothing about the token.
type auth struct {
	tokenSum [sha256.Size]byte
	enabled  bool
	key      [32]byte
	session  string // hex HMAC(key, "session")
}

func newAuth(token string) *auth {
	a := &auth{enabled: token != ""}
	if !a.enabled {
		return a
	}
	a.tokenSum = sha256.Sum256([]byte(token))
	_, _ = rand.Read(a.key[:])
	m := hmac.New(sha256.New, a.key[:])
	m.Write([]byte("stagescope session v1"))
	a.session = hex.EncodeToString(m.Sum(nil))
	return a
}

// tokenOK compares the SHA-256 of the candidate with that of the token, so
// the comparison takes the same time whatever the candidate's length.
func (a *auth) tokenOK(candidate string) bool {
	sum := sha256.Sum256([]byte(candidate))
	return subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1
}

func (a *auth) sessionOK(r *http.Request) bool {
	ck, err := r.Cookie(SessionCookie)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(ck.Value), []byte(a.session)) == 1
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
// gets the session cookie.
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
	if !s.auth.tokenOK(req.Token) {
		return unauthorized(c, "wrong token")
	}
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: s.auth.session, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.Request().TLS != nil,
		MaxAge: int(sessionLifetime / time.Second),
	})
	return c.JSON(http.StatusOK, map[string]any{"auth": true})
}
