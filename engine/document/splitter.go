package document

import (
	"context"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/spans"
)

// Defaults of a SentenceSplitter, in tokens.
const (
	DefaultChunkSize    = 512
	DefaultChunkOverlap = 64
)

// DispatcherName is the dispatcher the splitter reports through.
const DispatcherName = "engine.document"

// Counter counts the tokens of a text. *tokens.Encoder from engine/tokens
// satisfies it; any tokenizer will do, as long as the same one sizes the
// prompts downstream.
type Counter interface {
	Count(text string) int
}

// SentenceSplitter cuts documents into nodes of at most ChunkSize tokens.
// It prefers to cut between paragraphs, then between sentences, then
// between words, and cuts inside a word only when one word alone is larger
// than a chunk. Consecutive nodes of a document share up to ChunkOverlap
// tokens of whole pieces, so a sentence cut off at a chunk's end is repeated
// at the next one's start. It is safe for concurrent use when its Counter is.
type SentenceSplitter struct {
	counter Counter
	size    int
	overlap int
}

// SplitterOption configures a SentenceSplitter.
type SplitterOption func(*SentenceSplitter)

// WithChunkSize sets the largest chunk, in tokens (DefaultChunkSize).
func WithChunkSize(n int) SplitterOption { return func(s *SentenceSplitter) { s.size = n } }

// WithChunkOverlap sets the largest overlap between consecutive chunks, in
// tokens (DefaultChunkOverlap); 0 turns overlap off.
func WithChunkOverlap(n int) SplitterOption { return func(s *SentenceSplitter) { s.overlap = n } }

// NewSentenceSplitter returns a splitter that counts with counter. The
// overlap must be smaller than the chunk size.
func NewSentenceSplitter(counter Counter, opts ...SplitterOption) (*SentenceSplitter, error) {
	s := &SentenceSplitter{counter: counter, size: DefaultChunkSize, overlap: DefaultChunkOverlap}
	for _, o := range opts {
		o(s)
	}
	switch {
	case counter == nil:
		return nil, errors.New("sentence splitter: no token counter given")
	case s.size <= 0:
		return nil, fmt.Errorf("sentence splitter: chunk size %d must be positive", s.size)
	case s.overlap < 0 || s.overlap >= s.size:
		return nil, fmt.Errorf("sentence splitter: chunk overlap %d must be in [0, chunk size %d)", s.overlap, s.size)
	}
	return s, nil
}

// ChunkSize returns the largest chunk in tokens.
func (s *SentenceSplitter) ChunkSize() int { return s.size }

// ChunkOverlap returns the largest overlap in tokens.
func (s *SentenceSplitter) ChunkOverlap() int { return s.overlap }

// SplitDocuments splits every document, in order, inside one "split" span.
func (s *SentenceSplitter) SplitDocuments(ctx context.Context, docs []Document) (nodes []Node, err error) {
	_, span := dispatcher.Get(DispatcherName).Start(ctx, "split", spans.StageOther, spans.Int("split.documents", len(docs)), spans.Int("split.chunk_size", s.size))
	defer span.Done(&err)
	for _, d := range docs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("splitting documents: %w", err)
		}
		nodes = append(nodes, s.Split(d)...)
	}
	span.SetAttributes(spans.Int("split.nodes", len(nodes)))
	return nodes, nil
}

// Split cuts one document into nodes. A document of only white space gives
// none.
func (s *SentenceSplitter) Split(d Document) []Node {
	pieces := s.pieces(d.Text, piece{0, len(d.Text)}, levelParagraph, nil)
	if len(pieces) == 0 {
		return nil
	}
	text := d.Text
	fits := func(lo, hi int) bool { // pieces[lo:hi] as one chunk
		return s.counter.Count(text[pieces[lo].start:pieces[hi-1].end]) <= s.size
	}
	var nodes []Node
	emit := func(lo, hi int) {
		nodes = append(nodes, newNode(d, len(nodes), pieces[lo].start, pieces[hi-1].end))
	}
	lo, hi := 0, 0 // the current chunk is pieces[lo:hi]
	for hi < len(pieces) {
		if lo == hi || fits(lo, hi+1) { // a lone piece always fits
			hi++
			continue
		}
		emit(lo, hi)
		// Carry over the longest tail of whole pieces within the overlap
		// (never the whole chunk), then shed pieces from its front until the
		// next piece fits beside it.
		k := hi
		for s.overlap > 0 && k-1 > lo && s.counter.Count(text[pieces[k-1].start:pieces[hi-1].end]) <= s.overlap {
			k--
		}
		for k < hi && !fits(k, hi+1) {
			k++
		}
		lo = k
	}
	if lo < hi {
		emit(lo, hi)
	}
	return nodes
}

type piece struct{ start, end int }

type level int

const (
	levelParagraph level = iota
	levelSentence
	levelWord
	levelRune
)

// pieces appends to dst the pieces of text[p] (trimmed of white space), each
// at most s.size tokens, cutting at the coarsest level that works.
func (s *SentenceSplitter) pieces(text string, p piece, lv level, dst []piece) []piece {
	p = trim(text, p)
	if p.start >= p.end {
		return dst
	}
	if s.counter.Count(text[p.start:p.end]) <= s.size {
		return append(dst, p)
	}
	for ; lv < levelRune; lv++ {
		parts := cut(text, p, lv)
		if len(parts) > 1 {
			for _, q := range parts {
				dst = s.pieces(text, q, lv+1, dst)
			}
			return dst
		}
	}
	return s.runePieces(text, p, dst)
}

// runePieces cuts a single over-long word into the longest rune runs that
// fit: a galloping search over rune boundaries, so a piece costs time in
// proportion to its own length, not to the rest of the word.
func (s *SentenceSplitter) runePieces(text string, p piece, dst []piece) []piece {
	var bounds []int // byte offset after each rune of text[p]
	for i := p.start; i < p.end; {
		_, w := utf8.DecodeRuneInString(text[i:p.end])
		i += w
		bounds = append(bounds, i)
	}
	start, first := p.start, 0 // bounds[first] ends the first rune of the rest
	fitsRunes := func(n int) bool { return s.counter.Count(text[start:bounds[first+n-1]]) <= s.size }
	for first < len(bounds) {
		rest := len(bounds) - first
		// Gallop: lo runes fit, hi runes do not (or hi = rest+1).
		lo, hi := 1, rest+1
		for n := min(s.size, rest); n > lo; n = min(2*n, rest) {
			if !fitsRunes(n) {
				hi = n
				break
			}
			lo = n
			if n == rest {
				break
			}
		}
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if fitsRunes(mid) {
				lo = mid
			} else {
				hi = mid
			}
		}
		end := bounds[first+lo-1]
		dst = append(dst, piece{start, end})
		start, first = end, first+lo
	}
	return dst
}

func trim(text string, p piece) piece {
	for p.start < p.end {
		r, w := utf8.DecodeRuneInString(text[p.start:p.end])
		if !unicode.IsSpace(r) {
			break
		}
		p.start += w
	}
	for p.end > p.start {
		r, w := utf8.DecodeLastRuneInString(text[p.start:p.end])
		if !unicode.IsSpace(r) {
			break
		}
		p.end -= w
	}
	return p
}

// cut splits text[p] at the boundaries of level lv. The parts cover p
// without gaps; white space at their edges is trimmed by the caller.
func cut(text string, p piece, lv level) []piece {
	var parts []piece
	start := p.start
	s := text[:p.end]
	for i := p.start; i < p.end; {
		r, w := utf8.DecodeRuneInString(s[i:])
		next := i + w
		var boundary int // where the next part begins, or -1
		boundary = -1
		switch lv {
		case levelParagraph:
			if r == '\n' {
				j := next
				for j < p.end && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r') {
					j++
				}
				if j < p.end && s[j] == '\n' {
					boundary = j + 1
				}
			}
		case levelSentence:
			if r == '.' || r == '!' || r == '?' || r == '。' {
				j := next
				for j < p.end && (s[j] == '"' || s[j] == '\'' || s[j] == ')') {
					j++
				}
				if j < p.end {
					if r2, _ := utf8.DecodeRuneInString(s[j:]); unicode.IsSpace(r2) || r == '。' {
						boundary = j
					}
				}
			}
		case levelWord:
			if unicode.IsSpace(r) {
				boundary = next
			}
		}
		if boundary > start && boundary < p.end {
			parts = append(parts, piece{start, boundary})
			start = boundary
			i = boundary
			continue
		}
		i = next
	}
	return append(parts, piece{start, p.end})
}
