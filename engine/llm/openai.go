package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/engine/retry"
	"github.com/stagescope/stagescope/engine/tokens"
	"github.com/stagescope/stagescope/spans"
)

// ProviderOpenAI is the provider name of OpenAI-compatible servers.
const ProviderOpenAI = "openai"

// maxResponseBody bounds a non-streamed response body.
const maxResponseBody = 32 << 20

type openAI struct {
	c        config
	in       instrument
	endpoint string
}

// NewOpenAI returns a client of the OpenAI chat-completions API at baseURL,
// which may or may not end in /v1 ("https://host", "http://127.0.0.1:11434/v1").
// Token counts come from the server's usage report (asked for in streams
// with stream_options.include_usage) and fall back to tiktoken counts when a
// server sends none.
func NewOpenAI(baseURL, model string, opts ...Option) LLM {
	c := newConfig(opts)
	enc := c.encoder
	if enc == nil {
		enc = tokens.ForModelOrDefault(model)
	}
	base := strings.TrimRight(baseURL, "/")
	endpoint := base + "/v1/chat/completions"
	if strings.HasSuffix(base, "/v1") {
		endpoint = base + "/chat/completions"
	}
	return &openAI{c: c, in: instrument{d: c.d, model: model, provider: ProviderOpenAI, enc: enc}, endpoint: endpoint}
}

func (o *openAI) Model() string { return o.in.model }

// Wire format.
type (
	chatRequest struct {
		Model         string         `json:"model"`
		Messages      []Message      `json:"messages"`
		MaxTokens     int            `json:"max_tokens,omitempty"`
		Temperature   float64        `json:"temperature"`
		Stop          []string       `json:"stop,omitempty"`
		Stream        bool           `json:"stream,omitempty"`
		StreamOptions *streamOptions `json:"stream_options,omitempty"`
	}
	streamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	}
	usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	}
	apiErrorBody struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	}
	chatResponse struct {
		Choices []struct {
			Message      Message `json:"message"`
			FinishReason string  `json:"finish_reason"`
		} `json:"choices"`
		Usage *usage        `json:"usage"`
		Error *apiErrorBody `json:"error"`
	}
	chatChunk struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage *usage        `json:"usage"`
		Error *apiErrorBody `json:"error"`
	}
)

// post sends the request with retries and returns a 200 response whose body
// the caller must close.
func (o *openAI) post(ctx context.Context, req Request, stream bool) (*http.Response, error) {
	body := chatRequest{Model: o.in.model, Messages: req.Messages, MaxTokens: req.MaxTokens, Temperature: req.Temperature, Stop: req.Stop, Stream: stream}
	if stream {
		body.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("cannot encode chat completion request: %w", err)
	}
	ropts := append([]retry.Option{retry.WithDispatcher(o.c.d), retry.WithStage(spans.StageLLM)}, o.c.retryOpts...)
	return retry.Do(ctx, "llm.request", func(ctx context.Context, attempt int) (*http.Response, error) {
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, o.endpoint, bytes.NewReader(payload))
		if err != nil {
			return nil, retry.Permanent(fmt.Errorf("cannot build chat completion request for %s: %w", o.endpoint, err))
		}
		hreq.Header.Set("Content-Type", "application/json")
		if stream {
			hreq.Header.Set("Accept", "text/event-stream")
		}
		if o.c.apiKey != "" {
			hreq.Header.Set("Authorization", "Bearer "+o.c.apiKey)
		}
		resp, err := o.c.httpClient.Do(hreq)
		if err != nil {
			return nil, fmt.Errorf("chat completion request to %s failed: %w", o.endpoint, err)
		}
		if resp.StatusCode == http.StatusOK {
			return resp, nil
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxSnippet+1))
		resp.Body.Close()
		apiErr := &APIError{StatusCode: resp.StatusCode, Body: snippet(b), Retry: parseRetryAfter(resp.Header, time.Now())}
		if !apiErr.Retryable() {
			return nil, retry.Permanent(apiErr)
		}
		return nil, apiErr
	}, ropts...)
}

func (o *openAI) Complete(ctx context.Context, req Request) (_ *Response, err error) {
	ctx, span := o.c.d.Start(ctx, SpanName, spans.StageLLM, o.in.startAttrs(req, false)...)
	defer span.Done(&err)
	if ctx, err = faultinject.Inject(ctx, spans.StageLLM); err != nil {
		return nil, err
	}
	o.in.emitStart(ctx, req, false)
	start := time.Now()
	hresp, err := o.post(ctx, req, false)
	if err != nil {
		return nil, err
	}
	defer hresp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(hresp.Body, maxResponseBody))
	if err != nil {
		return nil, fmt.Errorf("cannot read chat completion response: %w", err)
	}
	var cr chatResponse
	if err := json.Unmarshal(raw, &cr); err != nil {
		return nil, fmt.Errorf("chat completion response is malformed JSON (HTTP 200, not retried): %w; body: %s", err, snippet(raw))
	}
	if cr.Error != nil {
		return nil, fmt.Errorf("chat completion failed: %s (%s)", cr.Error.Message, cr.Error.Type)
	}
	if len(cr.Choices) == 0 {
		return nil, fmt.Errorf("chat completion response has no choices; body: %s", snippet(raw))
	}
	resp := &Response{Content: cr.Choices[0].Message.Content, FinishReason: cr.Choices[0].FinishReason, TimeToFirstToken: time.Since(start)}
	var pp, pc int
	if cr.Usage != nil {
		pp, pc = cr.Usage.PromptTokens, cr.Usage.CompletionTokens
	}
	o.in.fillTokens(resp, req, pp, pc)
	o.in.finish(ctx, span, resp)
	return resp, nil
}

func (o *openAI) Stream(ctx context.Context, req Request) (*Stream, error) {
	s := newStream(ctx, &o.in, req)
	if _, err := faultinject.Inject(s.ctx, spans.StageLLM); err != nil {
		s.fail(err)
		return nil, err
	}
	hresp, err := o.post(s.ctx, req, true)
	if err != nil {
		s.fail(err)
		return nil, err
	}
	sse := newSSEReader(hresp.Body)
	var (
		u      *usage
		finish string
		done   bool
	)
	s.closeBody = hresp.Body.Close
	s.usage = func() (int, int, string) {
		if u == nil {
			return 0, 0, finish
		}
		return u.PromptTokens, u.CompletionTokens, finish
	}
	s.source = func(ctx context.Context) (string, error) {
		if done {
			return "", io.EOF
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
		data, err := sse.next()
		if errors.Is(err, io.EOF) {
			if finish == "" {
				return "", fmt.Errorf("chat completion stream ended before [DONE] and without a finish reason: %w", io.ErrUnexpectedEOF)
			}
			done = true
			return "", io.EOF
		}
		if err != nil {
			return "", fmt.Errorf("cannot read chat completion stream: %w", err)
		}
		if string(bytes.TrimSpace(data)) == "[DONE]" {
			done = true
			return "", io.EOF
		}
		var ch chatChunk
		if err := json.Unmarshal(data, &ch); err != nil {
			return "", fmt.Errorf("chat completion stream chunk is malformed JSON: %w; chunk: %s", err, snippet(data))
		}
		if ch.Error != nil {
			return "", fmt.Errorf("chat completion stream failed: %s (%s)", ch.Error.Message, ch.Error.Type)
		}
		if ch.Usage != nil {
			u = ch.Usage
		}
		var delta string
		for _, c := range ch.Choices {
			delta += c.Delta.Content
			if c.FinishReason != nil && *c.FinishReason != "" {
				finish = *c.FinishReason
			}
		}
		return delta, nil
	}
	return s, nil
}

var _ LLM = (*openAI)(nil)
