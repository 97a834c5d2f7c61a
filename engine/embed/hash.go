package embed

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/stagescope/stagescope/engine/document"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/spans"
)

// Defaults of the hash embedder.
const (
	DefaultHashDimensions = 512
	DefaultMinNGram       = 3
	DefaultMaxNGram       = 4
	// DefaultCharNGramWeight is the weight of one character n-gram relative
	// to one whole word: n-grams catch shared stems and sub-words
	// ("marshal" in "Unmarshaler") without drowning exact word matches.
	DefaultCharNGramWeight = 0.35
)

// HashEmbedder embeds text with no model: every word (as document.Terms
// analyses it) and every character n-gram of a word (with '<' and '>'
// marking the word's edges) is hashed (64-bit FNV-1a) into one of Dimensions
// buckets with a hash-chosen sign, weighted by its inverse document
// frequency, and the vector is L2-normalised. Two texts that share rare words
// and word pieces get a high cosine similarity. Until Fit is called every
// feature has IDF 1.
type HashEmbedder struct {
	dims       int
	minN, maxN int
	charWeight float32
	counter    document.Counter
	idf        atomic.Pointer[idfTable]
}

var _ Embedder = (*HashEmbedder)(nil)

// HashOption configures a HashEmbedder.
type HashOption func(*HashEmbedder)

// WithHashDimensions sets the vector length (DefaultHashDimensions). More
// dimensions mean fewer hash collisions and more memory per vector.
func WithHashDimensions(n int) HashOption { return func(h *HashEmbedder) { h.dims = n } }

// WithNGramRange sets the character n-gram lengths; a max below min turns
// character n-grams off.
func WithNGramRange(minN, maxN int) HashOption {
	return func(h *HashEmbedder) { h.minN, h.maxN = minN, maxN }
}

// WithCharNGramWeight sets the weight of a character n-gram relative to a
// word (DefaultCharNGramWeight).
func WithCharNGramWeight(w float32) HashOption { return func(h *HashEmbedder) { h.charWeight = w } }

// WithTokenCounter makes Embed report embedding.tokens with counter (for
// example a tiktoken encoder); without it the number of words is reported.
func WithTokenCounter(c document.Counter) HashOption { return func(h *HashEmbedder) { h.counter = c } }

// NewHashEmbedder returns a local embedder.
func NewHashEmbedder(opts ...HashOption) *HashEmbedder {
	h := &HashEmbedder{dims: DefaultHashDimensions, minN: DefaultMinNGram, maxN: DefaultMaxNGram, charWeight: DefaultCharNGramWeight}
	for _, o := range opts {
		o(h)
	}
	if h.dims <= 0 {
		h.dims = DefaultHashDimensions
	}
	if h.minN < 1 {
		h.minN = 1
	}
	return h
}

// Model returns "hash-tfidf-<dimensions>".
func (h *HashEmbedder) Model() string { return fmt.Sprintf("hash-tfidf-%d", h.dims) }

// Dimensions returns the vector length.
func (h *HashEmbedder) Dimensions() int { return h.dims }

// idfTable holds document frequencies of features, keyed by feature hash.
type idfTable struct {
	n  int
	df map[uint64]int32
}

func (t *idfTable) weight(f uint64) float32 {
	if t == nil {
		return 1
	}
	// Smoothed IDF: an unseen feature gets the largest weight.
	return float32(math.Log(float64(1+t.n)/float64(1+t.df[f])) + 1)
}

// Fit learns the document frequency of every feature over corpus, one text
// per document, and uses it from then on. It may run while other goroutines
// embed: they see either the old or the new table.
func (h *HashEmbedder) Fit(corpus []string) {
	t := &idfTable{n: len(corpus), df: make(map[uint64]int32)}
	seen := make(map[uint64]struct{})
	var buf []byte
	var terms []string
	for _, text := range corpus {
		clear(seen)
		terms = document.AppendTerms(terms[:0], text)
		buf = h.features(terms, buf, func(f uint64, _ float32) { seen[f] = struct{}{} })
		for f := range seen {
			t.df[f]++
		}
	}
	h.idf.Store(t)
}

// Fitted reports how many documents the IDF was fitted on (0 before Fit).
func (h *HashEmbedder) Fitted() int {
	if t := h.idf.Load(); t != nil {
		return t.n
	}
	return 0
}

// Embed embeds each text. It does no I/O; ctx is checked between texts.
func (h *HashEmbedder) Embed(ctx context.Context, texts []string) (out [][]float32, err error) {
	model := h.Model()
	sctx, span := embedSpan(ctx, model, len(texts))
	tokens := 0
	defer func() { endEmbedSpan(sctx, span, model, len(texts), tokens, h.dims, err) }()
	if sctx, err = faultinject.Inject(sctx, spans.StageEmbed); err != nil {
		return nil, err
	}

	table := h.idf.Load()
	flat := make([]float32, len(texts)*h.dims) // one allocation for all vectors
	out = make([][]float32, len(texts))
	var buf []byte
	var terms []string
	for i, text := range texts {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("hash embedding: %w", err)
			}
		}
		v := flat[i*h.dims : (i+1)*h.dims : (i+1)*h.dims]
		terms = document.AppendTerms(terms[:0], text)
		buf = h.features(terms, buf, func(f uint64, w float32) {
			w *= table.weight(f)
			if f>>63 == 1 {
				w = -w
			}
			v[f%uint64(h.dims)] += w
		})
		Normalize(v)
		out[i] = v
		if h.counter != nil {
			tokens += h.counter.Count(text)
		} else {
			tokens += len(terms)
		}
	}
	return out, nil
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
	wordSalt  = 'w'
	gramSalt  = 'g'
)

// features calls emit for every feature of the terms: the word itself
// (weight 1) and its character n-grams (weight charWeight). buf is scratch
// space, returned for reuse.
func (h *HashEmbedder) features(terms []string, buf []byte, emit func(f uint64, w float32)) []byte {
	for _, t := range terms {
		emit(fnv(wordSalt, t), 1)
		if h.maxN < h.minN || h.charWeight == 0 {
			continue
		}
		buf = append(append(append(buf[:0], '<'), t...), '>')
		for n := h.minN; n <= h.maxN && n <= len(buf); n++ {
			for i := 0; i+n <= len(buf); i++ {
				emit(fnvBytes(gramSalt, buf[i:i+n]), h.charWeight)
			}
		}
	}
	return buf
}

func fnv(salt byte, s string) uint64 {
	x := uint64(fnvOffset)
	x = (x ^ uint64(salt)) * fnvPrime
	for i := 0; i < len(s); i++ {
		x = (x ^ uint64(s[i])) * fnvPrime
	}
	return mix(x)
}

func fnvBytes(salt byte, b []byte) uint64 {
	x := uint64(fnvOffset)
	x = (x ^ uint64(salt)) * fnvPrime
	for _, c := range b {
		x = (x ^ uint64(c)) * fnvPrime
	}
	return mix(x)
}

// mix spreads FNV's weak high bits, which pick the sign.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}
