package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stagescope/stagescope/collector"
)

// --prices adds to the built-in table: doubling gpt-4o-mini's prices
// doubles what the report says its calls cost, and leaves the embedding
// model's built-in price alone. A bad file is a usage error.
func TestPricesFlag(t *testing.T) {
	data := t.TempDir()
	store, err := collector.OpenSQLite(filepath.Join(data, databaseFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collector.GenerateSynthetic(context.Background(), store, 200, 5); err != nil {
		t.Fatal(err)
	}
	store.Close()
	cost := func(env []string, args ...string) map[string]float64 {
		t.Helper()
		r := mustRun(t, env, append([]string{"report", "--data", data, "--since", "30h", "--json"}, args...)...)
		var rep struct {
			Cost []struct {
				Model string  `json:"model"`
				USD   float64 `json:"usd"`
			} `json:"cost"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, c := range rep.Cost {
			out[c.Model] += c.USD
		}
		return out
	}
	file := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(file, []byte(`{"gpt-4o-mini": {"prompt_per_mtok": 0.30, "completion_per_mtok": 1.20}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	base, flagged, fromEnv := cost(nil), cost(nil, "--prices", file), cost([]string{"STAGESCOPE_PRICES=" + file})
	const m, e = "gpt-4o-mini", "text-embedding-3-small"
	if base[m] <= 0 || !near(flagged[m], 2*base[m]) || !near(fromEnv[m], flagged[m]) || flagged[e] != base[e] || base[e] <= 0 {
		t.Errorf("cost without --prices %v, with %v, from the environment %v", base, flagged, fromEnv)
	}

	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"gpt-4o-mini": {"prompt": 1}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"report", "--data", data, "--prices", bad}, {"serve", "--data", t.TempDir(), "--prices", bad},
		{"report", "--data", data, "--prices", filepath.Join(t.TempDir(), "missing.json")}} {
		r := runCmd(t, nil, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "--prices") {
			t.Errorf("stagescope %v: exit %d, %q", args, r.code, r.stderr)
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-9*max(1, b) && b-a < 1e-9*max(1, b) }
