package handlers

import (
	"context"
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
