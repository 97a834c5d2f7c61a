package llm

import (
	"context"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/engine/tokens"
	"github.com/stagescope/stagescope/spans"
)

// ProviderLocal is the provider name of the extractive local LLM.
const ProviderLocal = "stagescope"

// NoAnswer is what the extractive LLM says when no sentence of the context
// shares a term with the question.
const NoAnswer = "The given context does not answer the question."

type extractive struct {
	c  config
	in instrument
}

// NewExtractive returns the extractive local LLM: no network, no weights.
// It answers by picking the sentences of the prompt's context that best
// match the question (term overlap weighted by inverse sentence frequency,
// normalised by sentence length), in their original order. It understands
// the prompts of engine/synth and engine/rerank:
//
//   - the question is the text after the last "Query:" or "Question:" label;
//   - the context is the text between lines of dashes (all of them, so a
//     refine prompt's existing answer competes with the new context), or the
//     rest of the prompt when there are none;
//   - a prompt listing "Document N:" blocks and asking for "Doc: N,
//     Relevance: S" lines is answered in that format, scoring each document
//     against the question.
//
// Token counts are tiktoken counts (cl100k_base unless WithEncoder).
// WithFirstTokenLatency and WithTokenLatency simulate a real model's pace.
func NewExtractive(opts ...Option) LLM {
	c := newConfig(opts)
	enc := c.encoder
	if enc == nil {
		enc = tokens.ForModelOrDefault(ExtractiveModel)
	}
	return &extractive{c: c, in: instrument{d: c.d, model: ExtractiveModel, provider: ProviderLocal, enc: enc}}
}

func (x *extractive) Model() string { return ExtractiveModel }

func (x *extractive) Complete(ctx context.Context, req Request) (_ *Response, err error) {
	ctx, span := x.c.d.Start(ctx, SpanName, spans.StageLLM, x.in.startAttrs(req, false)...)
	defer span.Done(&err)
	if ctx, err = faultinject.Inject(ctx, spans.StageLLM); err != nil {
		return nil, err
	}
	x.in.emitStart(ctx, req, false)
	start := time.Now()
	text, finish := x.answer(req)
	n := x.in.enc.Count(text)
	if err := sleepCtx(ctx, x.c.firstTokenLatency+time.Duration(n)*x.c.tokenLatency); err != nil {
		return nil, err
	}
	resp := &Response{Content: text, FinishReason: finish, TimeToFirstToken: time.Since(start)}
	x.in.fillTokens(resp, req, 0, 0)
	x.in.finish(ctx, span, resp)
	return resp, nil
}

func (x *extractive) Stream(ctx context.Context, req Request) (*Stream, error) {
	s := newStream(ctx, &x.in, req)
	if _, err := faultinject.Inject(s.ctx, spans.StageLLM); err != nil {
		s.fail(err)
		return nil, err
	}
	text, finish := x.answer(req)
	pieces := words(text)
	first := true
	s.usage = func() (int, int, string) { return 0, 0, finish }
	s.source = func(ctx context.Context) (string, error) {
		if len(pieces) == 0 {
			return "", io.EOF
		}
		p := pieces[0]
		pieces = pieces[1:]
		d := time.Duration(x.in.enc.Count(p)) * x.c.tokenLatency
		if first {
			d += x.c.firstTokenLatency
			first = false
		}
		if err := sleepCtx(ctx, d); err != nil {
			return "", err
		}
		return p, nil
	}
	return s, nil
}

// words splits text into pieces that keep their leading space, so that
// joining them gives text back.
func words(text string) []string {
	var out []string
	start := 0
	for i := 1; i < len(text); i++ {
		if text[i] == ' ' && text[i-1] != ' ' {
			out = append(out, text[start:i])
			start = i
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

var (
	questionLabel = regexp.MustCompile(`(?im)^\s*(?:query|question)\s*:\s*`)
	separatorLine = regexp.MustCompile(`(?m)^\s*-{3,}\s*$`)
	documentLabel = regexp.MustCompile(`(?m)^\s*Document\s+(\d+)\s*:\s*`)
	answerLabel   = regexp.MustCompile(`(?im)^\s*answer\s*:.*$`)
)

// answer computes the reply and its finish reason.
func (x *extractive) answer(req Request) (string, string) {
	var b strings.Builder
	for _, m := range req.Messages {
		if m.Role == RoleAssistant {
			continue
		}
		b.WriteString(m.Content)
		b.WriteByte('\n')
	}
	prompt := b.String()
	question, rest := splitQuestion(prompt)
	var text string
	if docs := documentLabel.FindAllStringSubmatchIndex(rest, -1); len(docs) > 0 && strings.Contains(prompt, "Relevance:") {
		text = x.choose(question, rest, docs)
	} else {
		text = x.extract(question, contextOf(rest))
	}
	for _, stop := range req.Stop {
		if i := strings.Index(text, stop); stop != "" && i >= 0 {
			text = text[:i]
		}
	}
	if req.MaxTokens > 0 {
		if ids := x.in.enc.Encode(text); len(ids) > req.MaxTokens {
			text = strings.ToValidUTF8(x.in.enc.Decode(ids[:req.MaxTokens]), "")
			return text, "length"
		}
	}
	return text, "stop"
}

// splitQuestion returns the text after the last question label (up to an
// "Answer:" line or the end) and the prompt without it.
func splitQuestion(prompt string) (question, rest string) {
	locs := questionLabel.FindAllStringIndex(prompt, -1)
	if len(locs) == 0 {
		// No label: the last non-empty line is the question.
		lines := strings.Split(strings.TrimSpace(prompt), "\n")
		return lines[len(lines)-1], strings.Join(lines[:len(lines)-1], "\n")
	}
	last := locs[len(locs)-1]
	q := prompt[last[1]:]
	if end := answerLabel.FindStringIndex(q); end != nil {
		q = q[:end[0]]
	}
	if i := strings.Index(q, "\n\n"); i >= 0 {
		q = q[:i]
	}
	return strings.TrimSpace(q), prompt[:last[0]]
}

// contextOf returns the text between separator lines, or all of rest.
func contextOf(rest string) string {
	seps := separatorLine.FindAllStringIndex(rest, -1)
	if len(seps) < 2 {
		return rest
	}
	var b strings.Builder
	for i := 0; i+1 < len(seps); i += 2 {
		b.WriteString(rest[seps[i][1]:seps[i+1][0]])
		b.WriteByte('\n')
	}
	return b.String()
}

// scorer weighs question terms by their rarity among the candidates.
type scorer struct {
	query map[string]bool
	idf   map[string]float64
}

func newScorer(question string, candidates [][]string) *scorer {
	s := &scorer{query: map[string]bool{}, idf: map[string]float64{}}
	for _, t := range terms(question) {
		s.query[t] = true
	}
	df := map[string]int{}
	for _, c := range candidates {
		seen := map[string]bool{}
		for _, t := range c {
			if s.query[t] && !seen[t] {
				seen[t] = true
				df[t]++
			}
		}
	}
	n := float64(len(candidates))
	for t := range s.query {
		s.idf[t] = math.Log(1 + (n+1)/(float64(df[t])+0.5))
	}
	return s
}

// score is the summed weight of the distinct question terms in c, damped by
// c's length so that long passages do not win by size alone.
func (s *scorer) score(c []string) float64 {
	seen := map[string]bool{}
	var sum float64
	for _, t := range c {
		if s.query[t] && !seen[t] {
			seen[t] = true
			sum += s.idf[t]
		}
	}
	if sum == 0 {
		return 0
	}
	return sum / (1 + math.Log1p(float64(len(c))/8))
}

func (x *extractive) extract(question, context string) string {
	sents := sentences(context)
	cands := make([][]string, len(sents))
	for i, s := range sents {
		cands[i] = terms(s)
	}
	sc := newScorer(question, cands)
	type ranked struct {
		i     int
		score float64
	}
	var rs []ranked
	seen := map[string]bool{}
	for i, c := range cands {
		if seen[sents[i]] {
			continue
		}
		seen[sents[i]] = true
		if v := sc.score(c); v > 0 {
			rs = append(rs, ranked{i, v})
		}
	}
	if len(rs) == 0 {
		return NoAnswer
	}
	slices.SortStableFunc(rs, func(a, b ranked) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return a.i - b.i
	})
	rs = rs[:min(len(rs), x.c.maxSentences)]
	slices.SortFunc(rs, func(a, b ranked) int { return a.i - b.i })
	out := make([]string, len(rs))
	for k, r := range rs {
		out[k] = sents[r.i]
	}
	return strings.Join(out, " ")
}

// choose answers a choice-select (rerank) prompt with "Doc: N, Relevance:
// S" lines, best first, for the documents that share terms with the
// question; S is 1–10.
func (x *extractive) choose(question, rest string, docs [][]int) string {
	type doc struct {
		n     int
		terms []string
		score float64
	}
	ds := make([]doc, len(docs))
	cands := make([][]string, len(docs))
	for i, loc := range docs {
		n, _ := strconv.Atoi(rest[loc[2]:loc[3]])
		end := len(rest)
		if i+1 < len(docs) {
			end = docs[i+1][0]
		}
		body := rest[loc[1]:end]
		if j := separatorLine.FindStringIndex(body); j != nil {
			body = body[:j[0]]
		}
		ds[i] = doc{n: n, terms: terms(body)}
		cands[i] = ds[i].terms
	}
	sc := newScorer(question, cands)
	best := 0.0
	for i := range ds {
		ds[i].score = sc.score(ds[i].terms)
		best = max(best, ds[i].score)
	}
	if best == 0 {
		return NoAnswer
	}
	slices.SortStableFunc(ds, func(a, b doc) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	var b strings.Builder
	for _, d := range ds {
		if d.score <= 0 {
			break
		}
		rel := max(1, int(math.Round(10*d.score/best)))
		fmt.Fprintf(&b, "Doc: %d, Relevance: %d\n", d.n, rel)
	}
	return strings.TrimRight(b.String(), "\n")
}

var _ LLM = (*extractive)(nil)
