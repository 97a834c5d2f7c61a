package handlers_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A corrupt page met by a query after the start (quick_check passed) is a
// 500 logged with its cause, and turns health unhealthy: 503 from then on.
func TestCorruptPageMetLaterTurnsHealthUnhealthy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	store, err := collector.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collector.GenerateSynthetic(context.Background(), store, 200, 3); err != nil {
		t.Fatal(err)
	}
	store.Close() // checkpoints: every page is in the main file
	if store, err = collector.OpenSQLite(path); err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var log syncBuffer
	srv := handlers.New(store, nil, handlers.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	get := func(path string) int {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/api/health"); code != http.StatusOK {
		t.Fatalf("health before: %d", code)
	}

	// Overwrite the root page of the traces table behind the store's back,
	// and make the readers open fresh connections (no cached pages).
	var root, pageSize int64
	store.DB().QueryRow("SELECT rootpage FROM sqlite_master WHERE name = 'traces'").Scan(&root)
	store.DB().QueryRow("PRAGMA page_size").Scan(&pageSize)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, int(pageSize)/8), (root-1)*pageSize)
	f.Close()
	store.DB().SetMaxIdleConns(0) // closes the idle connections now
	store.DB().SetMaxIdleConns(4)

	resp, err := http.Get(ts.URL + "/api/traces?limit=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("trace list over a corrupt page: %d", resp.StatusCode)
	}
	if code := get("/api/health"); code != http.StatusServiceUnavailable {
		t.Fatalf("health after corruption was met: %d, want 503", code)
	}
	if l := log.String(); !strings.Contains(l, "request failed") || !strings.Contains(l, "malformed") {
		t.Fatalf("log: %s", l)
	}
}
