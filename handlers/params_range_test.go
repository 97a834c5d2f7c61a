package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers"
)

// windowed lists every endpoint that takes a time window, with the names of
// its from and to parameters and what else it needs.
var windowed = []struct{ path, from, to, extra string }{
	{"/api/traces", "from", "to", ""},
	{"/api/stages", "from", "to", ""},
	{"/api/timeseries", "from", "to", ""},
	{"/api/report", "from", "to", ""},
	{"/api/services", "from", "to", ""},
	{"/api/compare", "cand_from", "cand_to", "base_from=0&base_to=1000&"},
}

// Times past what the store can hold (int64 Unix nanoseconds end at
// 2262-04-11T23:47:16Z), before 1970, and from in the future are the
// caller's mistakes: a 400 naming the parameter and the allowed range, on
// every endpoint — never a panic, a 500 or an empty 200.
func TestTimeParametersOutOfRange(t *testing.T) {
	s := newSeeded(t)
	for _, e := range windowed {
		for _, c := range []struct{ query, want string }{
			{e.to + "=2300-01-01T00:00:00Z", `parameter "` + e.to + `": 2300-01-01T00:00:00Z is out of range: times run from 1970-01-01T00:00:00Z to 2262-04-11T23:47:16Z`},
			{e.to + "=2263-01-01T00:00:00Z", `parameter "` + e.to + `": 2263-01-01T00:00:00Z is out of range`},
			{e.to + "=9223372036855", `parameter "` + e.to + `": 9223372036855 is out of range: times run from`},
			{e.from + "=0001-01-01T00:00:00Z", `parameter "` + e.from + `": 0001-01-01T00:00:00Z is out of range`},
			{e.to + "=now-876000h", `parameter "` + e.to + `": 1926-`},
			{e.from + "=1969-12-31T23:59:59Z", `parameter "` + e.from + `": 1969-12-31T23:59:59Z is out of range`},
			{e.from + "=2030-01-01T00:00:00Z", `parameter "` + e.from + `" (2030-01-01T00:00:00Z) is in the future`},
			{e.from + "=2030-01-01T00:00:00Z&" + e.to + "=2029-01-01T00:00:00Z", `parameter "` + e.from + `" (2030-01-01T00:00:00Z) is after "` + e.to + `"`},
		} {
			path := e.path + "?" + e.extra + c.query
			if msg := s.errorOf(path, http.StatusBadRequest); !strings.Contains(msg, c.want) {
				t.Errorf("GET %s: %q, want it to contain %q", path, msg, c.want)
			}
		}
		// The edges of the range are valid and answered.
		for _, q := range []string{
			e.to + "=2262-04-11T23:47:16Z",
			e.to + "=2262-04-11T23:47:16.854775807Z",
			e.from + "=0&" + e.to + "=9223372036854",
			e.from + "=1970-01-01T00:00:00Z",
			e.from + "=2262-04-11T23:00:00Z&" + e.to + "=2262-04-11T23:47:16Z",
		} {
			if e.extra != "" && !strings.Contains(q, "&") {
				continue // compare needs both ends of a window
			}
			path := e.path + "?" + e.extra + q
			if code, _, body := s.do(http.MethodGet, path, nil); code != http.StatusOK {
				t.Errorf("GET %s: %d %.300s, want 200", path, code, body)
			}
		}
	}
	// A window over the whole range still counts every seeded trace.
	var br handlers.StageBreakdown
	s.getJSON("/api/stages?from=0&to=2262-04-11T23:47:16Z", http.StatusOK, &br)
	if br.E2E == nil || br.E2E.Traces != seedTotal {
		t.Fatalf("e2e over the whole range: %+v, want %d traces", br.E2E, seedTotal)
	}
}

// FuzzAPIParameters sends arbitrary query strings to every GET endpoint of
// the API: each answer is 200 or 400 with a JSON body, never a server error
// or a panic. The seeds are the failures found by hand.
func FuzzAPIParameters(f *testing.F) {
	paths := []string{"/api/traces", "/api/stages", "/api/timeseries", "/api/report", "/api/compare", "/api/services", "/api/runs", "/api/health"}
	for _, q := range []string{
		"to=2300-01-01T00:00:00Z", "to=2263-01-01T00:00:00Z", "from=2030-01-01T00:00:00Z", "to=now-876000h",
		"to=2262-04-11T23:47:16Z", "from=0&to=9223372036854", "to=2262-04-11T23:47:16.854775807Z&step=8760h",
		"from=2262-04-11T23:47:16Z&step=1m", "base_from=0&base_to=1&cand_from=2262-04-11T23:00:00Z&cand_to=2262-04-11T23:47:16Z",
		"from=now-876000h", "to=now-8760h&from=0", "step=8760h", "from=1&to=2&step=1m", "slow_quantile=0.99&sample=1",
		"min_duration=1e308", "to=-1", "%zz", "service=a&from=0&to=2262-04-11T23:47:16Z",
	} {
		for i := range paths {
			f.Add(uint8(i), q)
		}
	}
	store, err := collector.OpenSQLite(filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	if _, err := collector.GenerateSynthetic(f.Context(), store, 30, 7); err != nil {
		f.Fatal(err)
	}
	srv := handlers.New(store, nil)
	f.Cleanup(func() { srv.Close() })
	f.Fuzz(func(t *testing.T, which uint8, query string) {
		if strings.ContainsAny(query, " #\r\n\t") {
			return // not a query string a client can send
		}
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Host = "127.0.0.1:7318" // not httptest's example.com, which the host guard refuses
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { defer close(done); srv.Handler().ServeHTTP(rec, req) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatalf("%s?%s: no answer within a minute", path, query)
		}
		switch rec.Code {
		case http.StatusOK:
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s?%s: 200 with invalid JSON %.200s", path, query, rec.Body)
			}
		case http.StatusBadRequest:
			var e handlers.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%s?%s: 400 without a JSON message: %s", path, query, rec.Body)
			}
		default:
			t.Fatalf("%s?%s: status %d %s", path, query, rec.Code, rec.Body)
		}
	})
}
