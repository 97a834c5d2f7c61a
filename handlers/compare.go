package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/analysis"
)

// CompareResponse is the answer of GET /api/compare.
type CompareResponse struct {
	Baseline   Sample               `json:"baseline_sample"`
	Candidate  Sample               `json:"candidate_sample"`
	Comparison *analysis.Comparison `json:"comparison"`
}

var compareParams = []string{"base_from", "base_to", "base_run", "cand_from", "cand_to", "cand_run", "service", "sample", "slow_quantile"}

// side reads one side of a comparison: a run, or a window with both ends.
func side(p *params, prefix string) (collector.TraceQuery, error) {
	var q collector.TraceQuery
	run, err := p.text(prefix+"_run", maxTextParam)
	if err != nil {
		return q, err
	}
	from, to, err := p.window(prefix+"_from", prefix+"_to")
	if err != nil {
		return q, err
	}
	switch {
	case run != "" && (!from.IsZero() || !to.IsZero()):
		return q, badRequest("give either %s_run or %s_from and %s_to, not both", prefix, prefix, prefix)
	case run != "":
		q.RunID = run
	case from.IsZero() || to.IsZero():
		return q, badRequest("the %s side needs %s_run, or both %s_from and %s_to", name(prefix), prefix, prefix, prefix)
	default:
		q.From, q.To = from, to
	}
	return q, nil
}

func name(prefix string) string {
	if prefix == "base" {
		return "baseline"
	}
	return "candidate"
}

// compare handles GET /api/compare: two windows or two runs (or one of
// each), analysed on samples of the same size; service restricts both sides
// to one service. Two runs also get the diff of their configurations.
func (s *Server) compare(c echo.Context) error {
	p, err := parseParams(c, compareParams...)
	if err != nil {
		return err
	}
	base, err := side(p, "base")
	if err != nil {
		return err
	}
	cand, err := side(p, "cand")
	if err != nil {
		return err
	}
	service, err := p.service("service")
	if err != nil {
		return err
	}
	base.Service, cand.Service = service, service
	n, err := p.limit("sample", s.cfg.reportSample, maxReportSample)
	if err != nil {
		return err
	}
	opts, err := s.analysisOptions(p)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	key, ok := s.cacheKey(ctx, "compare", p, cacheWindow{"base_from", "base_to", base.From, base.To, base.RunID},
		cacheWindow{"cand_from", "cand_to", cand.From, cand.To, cand.RunID})
	return s.cachedJSON(c, key, ok, func() (any, error) {
		// The two sides are read at once (the store has several read
		// connections; a remote source fetches both windows in parallel).
		var bt []analysis.Trace
		var bs Sample
		berr := make(chan error, 1)
		go func() {
			var err error
			bt, bs, err = s.loadSample(ctx, base, n)
			berr <- err
		}()
		ct, cs, cerr := s.loadSample(ctx, cand, n)
		if err := <-berr; err != nil {
			return nil, err
		}
		if cerr != nil {
			return nil, cerr
		}
		if base.RunID != "" && cand.RunID != "" {
			// Two runs: their stored configurations are diffed in the
			// comparison (both runs exist: their samples were read).
			br, err := s.src.Run(ctx, base.RunID)
			if err != nil {
				return nil, storeError("runs", err)
			}
			cr, err := s.src.Run(ctx, cand.RunID)
			if err != nil {
				return nil, storeError("runs", err)
			}
			opts = append(opts, analysis.WithRunConfigs(br.Config, cr.Config))
		}
		// Each side weighted back to its own window (a sample holds every
		// slow trace; a run read whole is not sampled).
		opts = append(opts, analysis.WithComparedSamples(bs.SlowThreshold, bs.HashRate, cs.SlowThreshold, cs.HashRate))
		return CompareResponse{Baseline: bs, Candidate: cs, Comparison: analysis.Compare(bt, ct, opts...)}, nil
	})
}
