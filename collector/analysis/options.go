package analysis

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"strings"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Defaults used when no option overrides them.
const (
	// DefaultSlowQuantile picks the slow cohort: traces whose end-to-end
	// latency is at or above this quantile.
	DefaultSlowQuantile = 0.95
	// DefaultMaxExemplars is how many trace IDs a finding or the tail
	// attribution lists.
	DefaultMaxExemplars = 5
	// DefaultWhatIfFactor is the speed-up used for the automatic what-if
	// scenarios when none is configured.
	DefaultWhatIfFactor = 2.0
	// DefaultSignificance is the p-value under which Compare calls a change
	// significant.
	DefaultSignificance = 0.01
	// DefaultRegressionThreshold is the relative growth of a stage's mean
	// per-trace self time that Compare flags as a regression (when it is
	// also significant).
	DefaultRegressionThreshold = 0.10
	// DefaultMinEffect is the smallest move of a stage's p50 or p95
	// per-trace time that Compare calls a regression or an improvement,
	// whatever the relative change: below a millisecond a change is not
	// worth acting on, and relative changes of near-zero baselines are
	// meaningless.
	DefaultMinEffect = time.Millisecond
)

// Price is what a model costs, in US dollars per million tokens. Embedding
// tokens are charged at PromptPerMTok.
type Price struct {
	PromptPerMTok     float64 `json:"prompt_per_mtok"`
	CompletionPerMTok float64 `json:"completion_per_mtok"`
}

// DefaultPrices returns a copy of the built-in price table. The figures are
// examples of list prices for a few common models and go stale; pass your own
// table with WithPriceTable for numbers you rely on. A model name matches its
// exact entry or, failing that, the longest entry it starts with
// ("gpt-4o-mini-2024-07-18" is priced as "gpt-4o-mini").
func DefaultPrices() map[string]Price {
	return map[string]Price{
		"gpt-4o":                 {PromptPerMTok: 2.50, CompletionPerMTok: 10.00},
		"gpt-4o-mini":            {PromptPerMTok: 0.15, CompletionPerMTok: 0.60},
		"gpt-4.1":                {PromptPerMTok: 2.00, CompletionPerMTok: 8.00},
		"gpt-4.1-mini":           {PromptPerMTok: 0.40, CompletionPerMTok: 1.60},
		"gpt-4.1-nano":           {PromptPerMTok: 0.10, CompletionPerMTok: 0.40},
		"gpt-3.5-turbo":          {PromptPerMTok: 0.50, CompletionPerMTok: 1.50},
		"claude-3-5-sonnet":      {PromptPerMTok: 3.00, CompletionPerMTok: 15.00},
		"claude-3-5-haiku":       {PromptPerMTok: 0.80, CompletionPerMTok: 4.00},
		"text-embedding-3-small": {PromptPerMTok: 0.02},
		"text-embedding-3-large": {PromptPerMTok: 0.13},
		// stagescope's own local models run in process and cost nothing;
		// listing them keeps the demo's report free of "no price" noise.
		"stagescope-extractive": {},
		"hash-tfidf":            {},
	}
}

// Option configures Analyze and Compare.
type Option func(*config)

type whatIfSpec struct {
	stage  spans.Stage
	factor float64
}

type config struct {
	sample *sampleWeights
	// sides are Compare's per-side sample weights (WithComparedSamples).
	sides        *[2]*sampleWeights
	prices       map[string]Price
	slowQuantile float64
	whatIf       []whatIfSpec
	maxExemplars int
	alpha        float64
	regression   float64
	minEffect    time.Duration
	// runConfigs are the two runs' configurations for Compare's diff.
	runConfigs *[2][]byte
}

func newConfig(opts []Option) *config {
	c := &config{
		prices:       DefaultPrices(),
		slowQuantile: DefaultSlowQuantile,
		maxExemplars: DefaultMaxExemplars,
		alpha:        DefaultSignificance,
		regression:   DefaultRegressionThreshold,
		minEffect:    DefaultMinEffect,
	}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// WithPriceTable replaces the price table (model name → price). Models not in
// the table are reported as unpriced and cost nothing.
func WithPriceTable(prices map[string]Price) Option {
	return func(c *config) { c.prices = maps.Clone(prices) }
}

// WithSlowQuantile sets the quantile (0 < q < 1) at or above which a trace is
// in the slow cohort. Out-of-range values are ignored.
func WithSlowQuantile(q float64) Option {
	return func(c *config) {
		if q > 0 && q < 1 {
			c.slowQuantile = q
		}
	}
}

// WithWhatIf asks for the scenario "stage were factor× faster" (factor > 1).
// Given at least once, it replaces the automatic scenarios (every stage on
// the critical path at DefaultWhatIfFactor).
func WithWhatIf(stage spans.Stage, factor float64) Option {
	return func(c *config) {
		if factor > 0 {
			c.whatIf = append(c.whatIf, whatIfSpec{stage, factor})
		}
	}
}

// sampleWeights is what WithSample set.
type sampleWeights struct {
	slow int64
	rate float64
}

// WithSample says the traces are a sample that holds every trace lasting at
// least slowThreshold but only a fraction hashRate (0 < hashRate < 1) of the
// others, drawn independently of their latency (by trace-id hash): the
// collector's sampling policy (collector.SampleInfo's SlowThreshold and
// HashRate). Analysed naively, such a sample over-weights the tail; with
// this option a trace below the threshold weighs 1/hashRate and a slow one
// 1, so percentiles, means, shares, the slow cohort and the predicted gains
// describe the window the sample was drawn from (Report.Weighting). A trace
// is judged slow by its end-to-end latency as the analysis measures it (the
// root span's duration). A hashRate outside (0, 1) leaves every weight 1.
func WithSample(slowThreshold time.Duration, hashRate float64) Option {
	return func(c *config) {
		c.sample = nil
		if hashRate > 0 && hashRate < 1 && !math.IsNaN(hashRate) {
			c.sample = &sampleWeights{slow: int64(slowThreshold), rate: hashRate}
		}
	}
}

// weight is how many traces of the sampled window a trace of latency e2e
// stands for.
func (c *config) weight(e2e int64) float64 {
	if c.sample == nil || e2e >= c.sample.slow {
		return 1
	}
	return 1 / c.sample.rate
}

// WithComparedSamples is WithSample for each side of Compare: the
// baseline's slow threshold and hash rate, then the candidate's. Each side
// is weighted back to its own window, so a sampled window compares fairly
// with a run read whole (naively, a sample holding every slow trace reads
// slower than the window it came from). A rate outside (0, 1) leaves that
// side's weights 1.
func WithComparedSamples(baseSlow time.Duration, baseRate float64, candSlow time.Duration, candRate float64) Option {
	return func(c *config) {
		var b, k config
		WithSample(baseSlow, baseRate)(&b)
		WithSample(candSlow, candRate)(&k)
		c.sides = &[2]*sampleWeights{b.sample, k.sample}
	}
}

// WithMaxExemplars sets how many exemplar trace IDs are listed (n ≥ 0).
func WithMaxExemplars(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.maxExemplars = n
		}
	}
}

// WithSignificance sets the p-value under which Compare deems a change
// significant (0 < alpha < 1).
func WithSignificance(alpha float64) Option {
	return func(c *config) {
		if alpha > 0 && alpha < 1 {
			c.alpha = alpha
		}
	}
}

// WithRegressionThreshold sets the relative growth (0.10 = +10 %) of a stage's
// mean per-trace self time that Compare flags when significant.
func WithRegressionThreshold(r float64) Option {
	return func(c *config) {
		if r > 0 {
			c.regression = r
		}
	}
}

// WithMinEffect sets the smallest move of a stage's p50 or p95 that Compare
// flags (d ≥ 0; DefaultMinEffect). The floor is max(regression threshold ×
// baseline value, d).
func WithMinEffect(d time.Duration) Option {
	return func(c *config) {
		if d >= 0 {
			c.minEffect = d
		}
	}
}

// WithRunConfigs gives Compare the configurations (JSON) of the baseline and
// the candidate run, so that the comparison lists the settings that differ
// (Comparison.ConfigDiff) and its findings name them.
func WithRunConfigs(baseline, candidate []byte) Option {
	return func(c *config) { c.runConfigs = &[2][]byte{baseline, candidate} }
}

// priceFor looks model up exactly, then by longest prefix.
func (c *config) priceFor(model string) (Price, bool) { return PriceOf(c.prices, model) }

// PriceOf looks model up in a price table: its exact entry, or the longest
// entry it starts with; ok is false when neither exists.
func PriceOf(table map[string]Price, model string) (p Price, ok bool) {
	if p, ok := table[model]; ok {
		return p, true
	}
	best, bestLen := Price{}, -1
	for name, p := range table {
		if len(name) > bestLen && strings.HasPrefix(model, name) {
			best, bestLen = p, len(name)
		}
	}
	return best, bestLen >= 0
}

// Cost is what tokens cost at price p, in US dollars (embedding tokens at
// the prompt price).
func (p Price) Cost(prompt, completion, embedding int64) float64 {
	return (float64(prompt+embedding)*p.PromptPerMTok + float64(completion)*p.CompletionPerMTok) / 1e6
}

// ReadPrices reads a price table in JSON — model name → price:
//
//	{"gpt-4o": {"prompt_per_mtok": 2.5, "completion_per_mtok": 10}}
//
// and returns it added to the built-in table (DefaultPrices), its entries
// replacing built-in ones of the same name. Unknown fields, negative or
// non-finite prices and an empty model name are errors that say where.
func ReadPrices(r io.Reader) (map[string]Price, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var table map[string]Price
	if err := dec.Decode(&table); err != nil {
		return nil, fmt.Errorf("price table: %w (want {\"model\": {\"prompt_per_mtok\": 2.5, \"completion_per_mtok\": 10}})", err)
	}
	if dec.More() {
		return nil, errors.New("price table: more than one JSON value")
	}
	out := DefaultPrices()
	for model, p := range table {
		if strings.TrimSpace(model) == "" {
			return nil, errors.New("price table: an empty model name")
		}
		for _, v := range []float64{p.PromptPerMTok, p.CompletionPerMTok} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("price table: model %q: price %v is not a non-negative number of dollars per million tokens", model, v)
			}
		}
		out[model] = p
	}
	return out, nil
}
