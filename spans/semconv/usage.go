package semconv

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Usage is the token use a span reports, in whichever convention its
// instrumentation wrote it.
type Usage struct {
	Prompt     int64 // input tokens of a model call
	Completion int64 // output tokens of a model call
	Embedding  int64 // input tokens of an embedding call
	CacheRead  int64 // prompt tokens served from the provider's cache (part of Prompt)
}

// Total is every token counted, cached ones once.
func (u Usage) Total() int64 { return u.Prompt + u.Completion + u.Embedding }

// Zero reports whether the span reports no token use.
func (u Usage) Zero() bool { return u == Usage{} }

var (
	promptKeys = []string{spans.KeyLLMPromptTokens, KeyOIPromptTokens, KeyGenAIInputTokens, KeyGenAIPromptTokens,
		KeyAIInputTokens, KeyAIPromptTokens}
	completionKeys = []string{spans.KeyLLMCompletionTokens, KeyOICompletionTokens, KeyGenAIOutputTokens,
		KeyGenAICompletionTokens, KeyAIOutputTokens, KeyAICompletionTokens}
	cacheReadKeys = []string{KeyOICacheReadTokens, KeyGenAICacheReadTokens, KeyAICachedInputTokens}
	// An embedding call's input tokens, in every convention: the prompt
	// keys mean embedding input on an embedding span.
	embeddingKeys = append([]string{spans.KeyEmbeddingTokens, KeyAIEmbeddingTokens, KeyOITotalTokens}, promptKeys...)
	modelKeys     = []string{spans.KeyLLMModel, KeyOIModel, KeyGenAIResponseModel, KeyGenAIRequestModel, KeyAIModelID,
		spans.KeyEmbeddingModel, KeyOIEmbeddingModel, KeyLangfuseModel}
)

// UsageOf reads a span's token use. On an embedding span (stage embed) the
// input tokens are embedding tokens, whichever key carries them. The Vercel
// AI SDK's outer operations (ai.generateText, ai.embed, …) report the sum of
// the provider calls inside them, which carry the same counts; they report
// nothing here, so a trace's tokens are counted once.
func UsageOf(s *spans.Span) Usage {
	var u Usage
	if len(s.Attrs) == 0 || IsVercelOperation(s.Attrs) {
		return u
	}
	if s.Stage == spans.StageEmbed {
		u.Embedding = count(s.Attrs, embeddingKeys)
		if u.Embedding == 0 {
			u.Embedding = langfuseUsage(s.Attrs).Prompt
		}
		return u
	}
	u.Prompt = count(s.Attrs, promptKeys)
	u.Completion = count(s.Attrs, completionKeys)
	u.CacheRead = min(count(s.Attrs, cacheReadKeys), u.Prompt)
	u.Embedding = count(s.Attrs, []string{spans.KeyEmbeddingTokens})
	if u.Zero() {
		u = langfuseUsage(s.Attrs)
	}
	return u
}

// Langfuse's usage_details is a JSON object of counts under its own keys
// (input, output), OpenAI's (prompt_tokens, completion_tokens), the
// Anthropic-style (input_tokens, output_tokens) or camel case; cached
// prompt tokens appear as cache_read_input_tokens or input_cached_tokens.
var (
	lfPromptKeys     = []string{"input", "prompt_tokens", "input_tokens", "promptTokens", "inputTokens"}
	lfCompletionKeys = []string{"output", "completion_tokens", "output_tokens", "completionTokens", "outputTokens"}
	lfCacheKeys      = []string{"cache_read_input_tokens", "input_cached_tokens", "input_cache_read", "cachedTokens"}
)

// langfuseUsage reads langfuse.observation.usage_details; the embedding
// count of an embedding span is its input (Prompt here).
func langfuseUsage(attrs []spans.Attribute) Usage {
	raw, ok := stringAttr(attrs, KeyLangfuseUsage)
	if !ok || !strings.HasPrefix(strings.TrimSpace(raw), "{") {
		return Usage{}
	}
	var m map[string]float64
	if json.Unmarshal([]byte(raw), &m) != nil {
		return Usage{}
	}
	first := func(keys []string) int64 {
		for _, k := range keys {
			if f, ok := m[k]; ok && f > 0 && f <= math.MaxInt64/2 {
				return int64(f)
			}
		}
		return 0
	}
	u := Usage{Prompt: first(lfPromptKeys), Completion: first(lfCompletionKeys)}
	u.CacheRead = min(first(lfCacheKeys), u.Prompt)
	return u
}

func count(attrs []spans.Attribute, keys []string) int64 {
	f, ok := numberAttr(attrs, keys...)
	if !ok || f <= 0 || math.IsNaN(f) || f > math.MaxInt64/2 {
		return 0
	}
	return int64(f)
}

// Model returns the model a span called, "" when it names none: the
// response model before the requested one, as the provider may resolve an
// alias.
func Model(s *spans.Span) string {
	for _, k := range modelKeys {
		if v, ok := stringAttr(s.Attrs, k); ok && v != "" {
			return v
		}
	}
	return ""
}

// TimeToFirstToken returns how long a streaming model call waited for its
// first chunk: stagescope's llm.ttft_ns, the Vercel AI SDK's
// ai.response.msToFirstChunk, or Langfuse's completion_start_time (an
// instant, JSON-quoted or not) less the span's start.
func TimeToFirstToken(s *spans.Span) (time.Duration, bool) {
	if f, ok := numberAttr(s.Attrs, spans.KeyLLMTTFTNanos); ok && f >= 0 {
		return time.Duration(f), true
	}
	if f, ok := numberAttr(s.Attrs, KeyAIMsToFirstChunk); ok && f >= 0 && f < 1e12 {
		return time.Duration(f * float64(time.Millisecond)), true
	}
	if v, ok := stringAttr(s.Attrs, KeyLangfuseCompletionStart); ok && !s.Start.IsZero() {
		at, err := time.Parse(time.RFC3339Nano, strings.Trim(v, `"`))
		if err == nil && !at.Before(s.Start) && (s.End.IsZero() || !at.After(s.End)) {
			return at.Sub(s.Start), true
		}
	}
	return 0, false
}

// StreamedFirstToken returns the time to first token of a call whose
// answer was streamed: TimeToFirstToken of a span with llm.stream true, or,
// without llm.stream, of any span that reports one (the Vercel AI SDK writes
// ai.response.msToFirstChunk on streams only). A call with llm.stream false
// has no first token apart from its whole answer, so it reports none.
func StreamedFirstToken(s *spans.Span) (time.Duration, bool) {
	for i := len(s.Attrs) - 1; i >= 0; i-- {
		if a := s.Attrs[i]; a.Key == spans.KeyLLMStream && a.Value.Kind() == spans.KindBool {
			if !a.Value.AsBool() {
				return 0, false
			}
			break
		}
	}
	return TimeToFirstToken(s)
}

func parseNumber(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
