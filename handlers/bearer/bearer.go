// Package bearer checks "Authorization: Bearer <token>" headers in constant
// time. It is the one token check of stagescope's HTTP surfaces (the
// dashboard's API and ingest, the debug endpoint).
package bearer

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Token is a required bearer token; the zero Token (from New("")) requires
// none.
type Token struct {
	sum     [sha256.Size]byte
	enabled bool
}

// New returns a check for token; "" means no token is required.
func New(token string) Token {
	if token == "" {
		return Token{}
	}
	return Token{sum: sha256.Sum256([]byte(token)), enabled: true}
}

// Enabled reports whether a token is required.
func (t Token) Enabled() bool { return t.enabled }

// Match compares the SHA-256 of candidate with that of the token, so the
// comparison takes the same time whatever the candidate's length.
func (t Token) Match(candidate string) bool {
	sum := sha256.Sum256([]byte(candidate))
	return subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1
}

// FromRequest returns the bearer token of r's Authorization header; ok is
// false when there is no such header, and present tells a header of another
// scheme from none.
func FromRequest(r *http.Request) (token string, present, ok bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false, false
	}
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", true, false
	}
	return strings.TrimSpace(tok), true, true
}

// Check returns "" when r may pass, else why not: a missing or wrong token.
func (t Token) Check(r *http.Request) string {
	if !t.enabled {
		return ""
	}
	tok, present, ok := FromRequest(r)
	switch {
	case !present:
		return "missing bearer token: send Authorization: Bearer <token>"
	case !ok || !t.Match(tok):
		return "invalid bearer token"
	}
	return ""
}
