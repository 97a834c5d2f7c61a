package bearer_test

import (
	"net/http/httptest"
	"testing"

	"github.com/stagescope/stagescope/handlers/bearer"
)

func TestCheck(t *testing.T) {
	tok := bearer.New("s3cret")
	for _, c := range []struct{ header, want string }{
		{"", "missing bearer token: send Authorization: Bearer <token>"},
		{"Bearer s3cret", ""},
		{"bearer  s3cret ", ""},
		{"Bearer s3cre", "invalid bearer token"},
		{"Basic s3cret", "invalid bearer token"},
		{"Bearer", "invalid bearer token"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		if got := tok.Check(r); got != c.want {
			t.Errorf("Authorization %q: %q, want %q", c.header, got, c.want)
		}
	}
	if none := bearer.New(""); none.Enabled() || none.Check(httptest.NewRequest("GET", "/", nil)) != "" {
		t.Fatal("an empty token must require nothing")
	}
}
