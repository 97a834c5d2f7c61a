package defaultmux_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/handlers/debug"
	_ "github.com/stagescope/stagescope/handlers/debug/defaultmux"
)

func TestImportMountsTheEndpointOnTheDefaultMux(t *testing.T) {
	srv := httptest.NewServer(http.DefaultServeMux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + debug.Path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "stagescope debug endpoint") {
		t.Fatalf("%s: %s", resp.Status, body)
	}
	hs := dispatcher.Root().SpanHandlers()
	if len(hs) != 1 || hs[0] != dispatcher.SpanHandler(debug.Default()) {
		t.Fatalf("root span handlers = %v, want the default flight recorder", hs)
	}
}
