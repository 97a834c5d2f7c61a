package document

import (
	"strings"
	"testing"

	"github.com/stagescope/stagescope/engine/tokens"
)

// The splitter with the real cl100k_base tokenizer, whose counts are not
// additive over pieces: the size limit must still hold exactly.
func TestSplitWithTiktoken(t *testing.T) {
	enc, err := tokens.Encoding(tokens.CL100KBase)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("Package bufio implements buffered I/O. It wraps an io.Reader or io.Writer object, "+
		"creating another object (Reader or Writer) that also implements the interface but provides buffering "+
		"and some help for textual I/O.\n\nNewReaderSize returns a new [Reader] whose buffer has at least the specified size. ", 8) +
		"Supercalifragilisticexpialidocious" + strings.Repeat("x", 300)
	d := Document{ID: "bufio", Text: text}
	for _, tc := range []struct{ size, overlap int }{{32, 8}, {64, 0}, {16, 15}, {200, 50}} {
		s, err := NewSentenceSplitter(enc, WithChunkSize(tc.size), WithChunkOverlap(tc.overlap))
		if err != nil {
			t.Fatal(err)
		}
		nodes := s.Split(d)
		checkNodes(t, s, d, nodes)
		if total := enc.Count(text); len(nodes) < total/tc.size {
			t.Fatalf("size %d: %d nodes for %d tokens", tc.size, len(nodes), total)
		}
	}
}
