package handlers

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
)

// A subscriber whose buffer is full is dropped (its channel closed) without
// holding up the others, and counted.
func TestLiveHubDropsSlowSubscriber(t *testing.T) {
	store, err := collector.OpenSQLite(filepath.Join(t.TempDir(), "live.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := newConfig([]Option{WithLiveBuffer(2), WithLivePoll(time.Hour)})
	h := newLiveHub(store, cfg, cfg.logger)
	defer h.close()
	slow, err := h.subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	fast, err := h.subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	h.broadcast([]liveMsg{{data: []byte("a")}, {data: []byte("b")}})
	if got := string(<-fast.ch) + string(<-fast.ch); got != "ab" {
		t.Fatalf("fast subscriber got %q", got)
	}
	h.broadcast([]liveMsg{{data: []byte("c")}}) // slow now holds a, b: full
	if got := string(<-fast.ch); got != "c" {
		t.Fatalf("fast subscriber got %q after the slow one filled up", got)
	}
	var got []string
	for m := range slow.ch { // ends: the hub closed it
		got = append(got, string(m))
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("slow subscriber got %q before being dropped", got)
	}
	if h.dropped.Load() != 1 || h.clients() != 1 {
		t.Errorf("dropped %d, clients %d; want 1 and 1", h.dropped.Load(), h.clients())
	}
	h.close()
	if _, err := h.subscribe(context.Background(), ""); err != errLiveClosed {
		t.Errorf("subscribe after close: %v", err)
	}
}

// A session ends on the server when its lifetime is over, whatever the
// browser does with the cookie.
func TestSessionExpiresOnTheServer(t *testing.T) {
	a := newAuth("tok")
	now := time.Unix(1_800_000_000, 0)
	a.now = func() time.Time { return now }
	id := a.newSession()
	req := func() *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "/api/traces", nil)
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: id})
		return r
	}
	if !a.sessionOK(req()) {
		t.Fatal("fresh session refused")
	}
	now = now.Add(sessionLifetime - time.Second)
	if !a.sessionOK(req()) {
		t.Fatal("session refused before its end")
	}
	now = now.Add(time.Second)
	if a.sessionOK(req()) {
		t.Fatal("session accepted at its end")
	}
	if len(a.sessions) != 0 {
		t.Fatalf("%d sessions kept", len(a.sessions))
	}
}
