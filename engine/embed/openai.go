package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stagescope/stagescope/engine/document"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/engine/pool"
	"github.com/stagescope/stagescope/engine/retry"
	"github.com/stagescope/stagescope/spans"
)

// Defaults of the OpenAI-compatible embedder.
const (
	DefaultBatchSize = 64
	// DefaultMaxErrorBody bounds how much of an error answer's body is kept
	// in the error.
	DefaultMaxErrorBody = 512
	// RetryOp is the retry operation name of one batch request.
	RetryOp = "embeddings"
)

// OpenAI embeds through an HTTP server speaking the OpenAI embeddings wire
// format: POST {base}/v1/embeddings with {"model","input":[…]} and an answer
// {"data":[{"index","embedding"}],"usage":{"prompt_tokens"}}. Texts are sent
// in batches of WithBatchSize; each batch is one retry.Do call, so 429 and
// 5xx answers and transport errors are retried (a Retry-After header sets
// the wait), while other 4xx answers and malformed JSON fail at once.
type OpenAI struct {
	endpoint  string
	model     string
	apiKey    string
	batchSize int
	reqDims   int
	client    *http.Client
	retryOpts []retry.Option
	counter   document.Counter
	workers   int
	dims      atomic.Int64
}

var _ Embedder = (*OpenAI)(nil)

// OpenAIOption configures an OpenAI embedder.
type OpenAIOption func(*OpenAI)

// WithAPIKey sends key as a bearer token.
func WithAPIKey(key string) OpenAIOption { return func(o *OpenAI) { o.apiKey = key } }

// WithBatchSize sets how many texts one request carries (DefaultBatchSize).
func WithBatchSize(n int) OpenAIOption { return func(o *OpenAI) { o.batchSize = n } }

// WithHTTPClient sets the HTTP client (http.DefaultClient otherwise).
func WithHTTPClient(c *http.Client) OpenAIOption { return func(o *OpenAI) { o.client = c } }

// WithRequestDimensions asks the model for vectors of n dimensions (the
// "dimensions" request field, for models that can shorten their output).
func WithRequestDimensions(n int) OpenAIOption { return func(o *OpenAI) { o.reqDims = n } }

// WithRetryOptions passes options to every batch's retry.Do (max tries,
// backoff). The retryable-error predicate is the embedder's own.
func WithRetryOptions(opts ...retry.Option) OpenAIOption {
	return func(o *OpenAI) { o.retryOpts = append(o.retryOpts, opts...) }
}

// WithConcurrency sends up to n batches at once, through engine/pool (one
// pool job span per batch); 1, the default, sends them one after another.
func WithConcurrency(n int) OpenAIOption { return func(o *OpenAI) { o.workers = n } }

// WithCounter counts tokens locally when the server reports no usage.
func WithCounter(c document.Counter) OpenAIOption { return func(o *OpenAI) { o.counter = c } }

// NewOpenAI returns an embedder for model at baseURL: the server's root
// ("http://127.0.0.1:11434") or its API root ending in /v1.
func NewOpenAI(baseURL, model string, opts ...OpenAIOption) *OpenAI {
	base := strings.TrimRight(baseURL, "/")
	endpoint := base + "/v1/embeddings"
	if strings.HasSuffix(base, "/v1") {
		endpoint = base + "/embeddings"
	}
	o := &OpenAI{endpoint: endpoint, model: model, batchSize: DefaultBatchSize, client: http.DefaultClient, workers: 1}
	for _, opt := range opts {
		opt(o)
	}
	if o.batchSize <= 0 {
		o.batchSize = DefaultBatchSize
	}
	if o.reqDims > 0 {
		o.dims.Store(int64(o.reqDims))
	}
	return o
}

// Model returns the model name sent to the server.
func (o *OpenAI) Model() string { return o.model }

// Dimensions returns the vector length seen in the last answer (or asked
// for with WithRequestDimensions); 0 before the first call.
func (o *OpenAI) Dimensions() int { return int(o.dims.Load()) }

// HTTPError is a non-2xx answer of the embeddings server.
type HTTPError struct {
	StatusCode int
	Body       string        // the start of the answer's body
	After      time.Duration // the Retry-After the server asked for, or 0
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("embeddings server answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// RetryAfter implements retry.RetryAfter.
func (e *HTTPError) RetryAfter() time.Duration { return e.After }

// Retryable reports whether the status is worth retrying: 408, 429 and 5xx.
func (e *HTTPError) Retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout || e.StatusCode >= 500
}

// ErrMalformedResponse is wrapped by every error about an answer that is not
// the expected JSON.
var ErrMalformedResponse = errors.New("malformed embeddings response")

type embeddingsRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
	Dimensions     int      `json:"dimensions,omitempty"`
}

type embeddingsResponse struct {
	Data []struct {
		Index     *int      `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
	Usage *struct {
		PromptTokens int `json:"prompt_tokens"`
	} `json:"usage"`
}

// Embed embeds texts batch by batch. A batch that fails after its retries
// fails the call.
func (o *OpenAI) Embed(ctx context.Context, texts []string) (out [][]float32, err error) {
	sctx, span := embedSpan(ctx, o.model, len(texts))
	tokens, dims := 0, 0
	defer func() { endEmbedSpan(sctx, span, o.model, len(texts), tokens, dims, err) }()
	if sctx, err = faultinject.Inject(sctx, spans.StageEmbed); err != nil {
		return nil, err
	}

	opts := append([]retry.Option{retry.WithRetryIf(retryable)}, o.retryOpts...)
	var jobs []pool.Job[*batchResult]
	for start := 0; start < len(texts); start += o.batchSize {
		batch := texts[start:min(start+o.batchSize, len(texts))]
		jobs = append(jobs, func(ctx context.Context) (*batchResult, error) {
			res, err := retry.Do(ctx, RetryOp, func(ctx context.Context, _ int) (*batchResult, error) {
				return o.post(ctx, batch)
			}, opts...)
			if err != nil {
				return nil, fmt.Errorf("embedding texts %d–%d of %d with %s: %w", start, start+len(batch)-1, len(texts), o.model, err)
			}
			return res, nil
		})
	}
	var results []*batchResult
	if o.workers > 1 && len(jobs) > 1 {
		results, err = pool.RunJobs(sctx, jobs, pool.WithWorkers(o.workers), pool.WithName("embed.batches"))
		if err != nil {
			return nil, err
		}
	} else {
		for _, job := range jobs {
			res, err := job(sctx)
			if err != nil {
				return nil, err
			}
			results = append(results, res)
		}
	}
	out = make([][]float32, 0, len(texts))
	for i, res := range results {
		if dims != 0 && len(res.vectors[0]) != dims {
			return nil, fmt.Errorf("%w: batch %d has %d dimensions, earlier ones %d", ErrMalformedResponse, i, len(res.vectors[0]), dims)
		}
		dims = len(res.vectors[0])
		tokens += res.tokens
		out = append(out, res.vectors...)
	}
	if dims > 0 {
		o.dims.Store(int64(dims))
	}
	return out, nil
}

type batchResult struct {
	vectors [][]float32
	tokens  int
}

func retryable(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Retryable()
	}
	// Transport errors (refused, reset, timed out) are worth another try;
	// a malformed answer is not.
	return !errors.Is(err, ErrMalformedResponse)
}

func (o *OpenAI) post(ctx context.Context, batch []string) (*batchResult, error) {
	body, err := json.Marshal(embeddingsRequest{Model: o.model, Input: batch, EncodingFormat: "float", Dimensions: o.reqDims})
	if err != nil {
		return nil, retry.Permanent(fmt.Errorf("encoding embeddings request: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, retry.Permanent(fmt.Errorf("building embeddings request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	if o.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.apiKey)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("posting to %s: %w", o.endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, DefaultMaxErrorBody))
		return nil, &HTTPError{StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(msg)), After: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading embeddings response: %w", err)
	}
	var r embeddingsResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%w from %s: %w", ErrMalformedResponse, o.endpoint, err)
	}
	if len(r.Data) != len(batch) {
		return nil, fmt.Errorf("%w: %d embeddings for %d inputs", ErrMalformedResponse, len(r.Data), len(batch))
	}
	vectors := make([][]float32, len(batch))
	for i, d := range r.Data {
		idx := i
		if d.Index != nil {
			idx = *d.Index
		}
		if idx < 0 || idx >= len(batch) || vectors[idx] != nil {
			return nil, fmt.Errorf("%w: embedding %d has index %d (out of range or repeated)", ErrMalformedResponse, i, idx)
		}
		if len(d.Embedding) == 0 || (i > 0 && len(d.Embedding) != len(r.Data[0].Embedding)) {
			return nil, fmt.Errorf("%w: embedding %d has %d dimensions", ErrMalformedResponse, idx, len(d.Embedding))
		}
		vectors[idx] = d.Embedding
	}
	res := &batchResult{vectors: vectors}
	switch {
	case r.Usage != nil:
		res.tokens = r.Usage.PromptTokens
	case o.counter != nil:
		for _, t := range batch {
			res.tokens += o.counter.Count(t)
		}
	}
	return res, nil
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
