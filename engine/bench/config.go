package bench

import (
	"fmt"

	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/engine/synth"
)

// Config is one point of a sweep.
type Config struct {
	TopK    int        `json:"top_k"`
	TopN    int        `json:"top_n"`
	Mode    synth.Mode `json:"mode"`
	Workers int        `json:"workers"`
}

// Name is a short, stable label of c, used as the run name.
func (c Config) Name() string {
	return fmt.Sprintf("k%d-n%d-%s-w%d", c.TopK, c.TopN, c.Mode, c.Workers)
}

// Validate reports a configuration the engine cannot run.
func (c Config) Validate() error {
	switch {
	case c.TopK < 1 || c.TopN < 1 || c.Workers < 1:
		return fmt.Errorf("bench config %s: top_k, top_n and workers must be positive", c.Name())
	case c.TopN > c.TopK:
		return fmt.Errorf("bench config %s: top_n %d exceeds top_k %d", c.Name(), c.TopN, c.TopK)
	}
	if _, err := synth.ParseMode(string(c.Mode)); err != nil {
		return fmt.Errorf("bench config %s: %w", c.Name(), err)
	}
	return nil
}

// Grid is the cross product a sweep runs. Empty dimensions take the query
// engine's defaults.
type Grid struct {
	TopK    []int
	TopN    []int
	Modes   []synth.Mode
	Workers []int
}

// Configs expands the grid in a fixed order (top_k, then top_n, mode and
// workers), leaving out combinations whose top_n exceeds top_k.
func (g Grid) Configs() []Config {
	ks := orDefault(g.TopK, query.DefaultTopK)
	ns := orDefault(g.TopN, query.DefaultTopN)
	ms := orDefault(g.Modes, query.DefaultMode)
	ws := orDefault(g.Workers, query.DefaultWorkers)
	var out []Config
	for _, k := range ks {
		for _, n := range ns {
			if n > k {
				continue
			}
			for _, m := range ms {
				for _, w := range ws {
					out = append(out, Config{TopK: k, TopN: n, Mode: m, Workers: w})
				}
			}
		}
	}
	return out
}

func orDefault[T any](v []T, def T) []T {
	if len(v) == 0 {
		return []T{def}
	}
	return v
}
