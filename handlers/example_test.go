package handlers_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers"
)

// Wiring a server the way cmd/stagescope does: a store, a collector in
// front of it, the handlers, and an http.Server on loopback. Shutdown ends
// live streams first, then stops the collector (which writes what it
// accepted) and closes the store.
func Example() {
	dir, err := os.MkdirTemp("", "stagescope-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := collector.OpenSQLite(filepath.Join(dir, "traces.db"))
	if err != nil {
		log.Fatal(err)
	}
	coll := collector.New(store)
	srv := handlers.New(store, coll,
		handlers.WithToken("change-me"),
		handlers.WithJaegerUI("http://127.0.0.1:16686"),
		handlers.WithRequestTimeout(10*time.Second),
	)
	hs := srv.HTTPServer("127.0.0.1:0") // DefaultAddr when empty
	ln, err := net.Listen("tcp", hs.Addr)
	if err != nil {
		log.Fatal(err)
	}
	go hs.Serve(ln)

	base := "http://" + ln.Addr().String()
	for _, path := range []string{"/api/health", "/api/traces"} {
		res, err := http.Get(base + path)
		if err != nil {
			log.Fatal(err)
		}
		res.Body.Close()
		fmt.Println(path, res.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	if err := coll.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	if err := store.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// /api/health 200
	// /api/traces 401
}
