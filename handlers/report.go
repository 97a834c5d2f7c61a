package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/analysis"
)

// ReportResponse is the answer of GET /api/report: the bottleneck report and
// the sample it was computed from.
type ReportResponse struct {
	Sample
	Report *analysis.Report `json:"report"`
}

// maxReportSample bounds the sample parameter.
const maxReportSample = collector.MaxTraceLimit

var reportParams = []string{"from", "to", "service", "stage", "status", "min_duration", "max_duration", "name", "attr", "run", "sample", "slow_quantile"}

// analysisOptions reads the options shared by report and compare.
func (s *Server) analysisOptions(p *params) ([]analysis.Option, error) {
	var opts []analysis.Option
	if s.cfg.prices != nil {
		opts = append(opts, analysis.WithPriceTable(s.cfg.prices))
	}
	if p.raw("slow_quantile") != "" {
		q, err := p.float("slow_quantile", analysis.DefaultSlowQuantile, 0.5, 0.999)
		if err != nil {
			return nil, err
		}
		opts = append(opts, analysis.WithSlowQuantile(q))
	}
	return opts, nil
}

// report handles GET /api/report: the same filters as /api/traces, plus
// sample (how many traces at most) and slow_quantile.
func (s *Server) report(c echo.Context) error {
	p, err := parseParams(c, reportParams...)
	if err != nil {
		return err
	}
	q, err := traceQuery(p)
	if err != nil {
		return err
	}
	n, err := p.limit("sample", s.cfg.reportSample, maxReportSample)
	if err != nil {
		return err
	}
	opts, err := s.analysisOptions(p)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	key, ok := s.cacheKey(ctx, "report", p, cacheWindow{"from", "to", q.From, q.To, q.RunID})
	return s.cachedJSON(c, key, ok, func() (any, error) {
		traces, smp, err := s.loadSample(ctx, q, n)
		if err != nil {
			return nil, err
		}
		return ReportResponse{Sample: smp, Report: analysis.Analyze(traces, append(opts, sampleWeights(smp))...)}, nil
	})
}
