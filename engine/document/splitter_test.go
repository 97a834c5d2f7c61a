package document

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stagescope/stagescope/dispatcher"
)

// wordCounter counts white-space separated words: a simple, exact tokenizer.
type wordCounter struct{}

func (wordCounter) Count(s string) int { return len(strings.Fields(s)) }

// runeCounter counts runes, so that a long word must be cut inside.
type runeCounter struct{}

func (runeCounter) Count(s string) int { return utf8.RuneCountInString(s) }

func sentence(i, words int) string {
	w := make([]string, words)
	for j := range w {
		w[j] = fmt.Sprintf("w%d_%d", i, j)
	}
	return strings.Join(w, " ") + "."
}

// checkNodes verifies the invariants every split must keep.
func checkNodes(t *testing.T, s *SentenceSplitter, d Document, nodes []Node) {
	t.Helper()
	covered := make([]bool, len(d.Text))
	for i, n := range nodes {
		if n.ID != NodeID(d.ID, i) || n.DocID != d.ID {
			t.Fatalf("node %d: id %q doc %q", i, n.ID, n.DocID)
		}
		if n.Text != d.Text[n.StartChar:n.EndChar] {
			t.Fatalf("node %d: text is not doc.Text[%d:%d]", i, n.StartChar, n.EndChar)
		}
		if c := s.counter.Count(n.Text); c > s.size || c == 0 {
			t.Fatalf("node %d has %d tokens, chunk size %d", i, c, s.size)
		}
		if i > 0 {
			prev := nodes[i-1]
			if n.StartChar <= prev.StartChar || n.EndChar <= prev.EndChar {
				t.Fatalf("node %d [%d,%d) does not advance past node %d [%d,%d)", i, n.StartChar, n.EndChar, i-1, prev.StartChar, prev.EndChar)
			}
			if n.StartChar < prev.EndChar {
				if c := s.counter.Count(d.Text[n.StartChar:prev.EndChar]); c > s.overlap {
					t.Fatalf("nodes %d and %d overlap by %d tokens, limit %d", i-1, i, c, s.overlap)
				}
			}
		}
		for j := n.StartChar; j < n.EndChar; j++ {
			covered[j] = true
		}
	}
	for i, r := range d.Text {
		if !covered[i] && !unicode.IsSpace(r) {
			t.Fatalf("byte %d (%q) of the document is in no node", i, r)
		}
	}
}

func TestSplitRespectsSizeOverlapAndCoverage(t *testing.T) {
	var b strings.Builder
	for p := 0; p < 6; p++ {
		for s := 0; s < 5; s++ {
			b.WriteString(sentence(p*10+s, 3+(p+s)%7))
			b.WriteString(" ")
		}
		b.WriteString("\n\n")
	}
	d := Document{ID: "doc", Text: b.String(), Metadata: map[string]string{"k": "v"}}
	s, err := NewSentenceSplitter(wordCounter{}, WithChunkSize(20), WithChunkOverlap(8))
	if err != nil {
		t.Fatal(err)
	}
	nodes := s.Split(d)
	checkNodes(t, s, d, nodes)
	total := wordCounter{}.Count(d.Text)
	if len(nodes) < total/20 {
		t.Fatalf("%d nodes for %d words at 20 per chunk", len(nodes), total)
	}
	overlapping := 0
	for i := 1; i < len(nodes); i++ {
		if nodes[i].StartChar < nodes[i-1].EndChar {
			overlapping++
		}
	}
	if overlapping == 0 {
		t.Fatal("no two consecutive nodes overlap although overlap is 8 tokens and sentences are shorter")
	}
	// Cuts fall between sentences: every node ends with a full stop.
	for i, n := range nodes {
		if !strings.HasSuffix(n.Text, ".") {
			t.Fatalf("node %d ends inside a sentence: %q", i, n.Text)
		}
	}
	nodes[0].Metadata["k"] = "changed"
	if d.Metadata["k"] != "v" {
		t.Fatal("node metadata aliases the document's map")
	}
}

func TestSplitWithoutOverlapPartitions(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 40; i++ {
		b.WriteString(sentence(i, 4) + " ")
	}
	d := Document{ID: "d", Text: b.String()}
	s, err := NewSentenceSplitter(wordCounter{}, WithChunkSize(10), WithChunkOverlap(0))
	if err != nil {
		t.Fatal(err)
	}
	nodes := s.Split(d)
	checkNodes(t, s, d, nodes)
	// Two 4-word sentences fit in 10 tokens, three do not: 20 nodes.
	if len(nodes) != 20 {
		t.Fatalf("got %d nodes, want 20", len(nodes))
	}
	for i := 1; i < len(nodes); i++ {
		if nodes[i].StartChar < nodes[i-1].EndChar {
			t.Fatalf("nodes %d and %d overlap with overlap 0", i-1, i)
		}
	}
}

func TestSplitParagraphsKeptWhole(t *testing.T) {
	paras := []string{"alpha beta gamma.", "delta epsilon zeta eta.", "theta iota."}
	d := Document{ID: "p", Text: strings.Join(paras, "\n\n")}
	s, err := NewSentenceSplitter(wordCounter{}, WithChunkSize(4), WithChunkOverlap(0))
	if err != nil {
		t.Fatal(err)
	}
	nodes := s.Split(d)
	checkNodes(t, s, d, nodes)
	if len(nodes) != 3 {
		t.Fatalf("got %d nodes, want one per paragraph: %+v", len(nodes), nodes)
	}
	for i, n := range nodes {
		if n.Text != paras[i] {
			t.Fatalf("node %d = %q, want %q", i, n.Text, paras[i])
		}
	}
}

func TestSplitCutsInsideLongWord(t *testing.T) {
	d := Document{ID: "w", Text: "short " + strings.Repeat("x", 25) + " tail"}
	s, err := NewSentenceSplitter(runeCounter{}, WithChunkSize(10), WithChunkOverlap(2))
	if err != nil {
		t.Fatal(err)
	}
	nodes := s.Split(d)
	checkNodes(t, s, d, nodes)
	want := []string{"short", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx tail"}
	if len(nodes) != len(want) {
		t.Fatalf("got %d nodes %+v, want %d", len(nodes), nodes, len(want))
	}
	for i := range want {
		if nodes[i].Text != want[i] {
			t.Fatalf("node %d = %q, want %q", i, nodes[i].Text, want[i])
		}
	}
}

func TestSplitEmptyAndInvalidOptions(t *testing.T) {
	s, err := NewSentenceSplitter(wordCounter{})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Split(Document{ID: "e", Text: " \n\t "}); len(n) != 0 {
		t.Fatalf("white space gave %d nodes", len(n))
	}
	for _, tc := range []struct {
		c    Counter
		opts []SplitterOption
	}{
		{nil, nil},
		{wordCounter{}, []SplitterOption{WithChunkSize(0)}},
		{wordCounter{}, []SplitterOption{WithChunkSize(10), WithChunkOverlap(10)}},
		{wordCounter{}, []SplitterOption{WithChunkOverlap(-1)}},
	} {
		if _, err := NewSentenceSplitter(tc.c, tc.opts...); err == nil {
			t.Fatalf("options %v accepted", tc.opts)
		}
	}
}

func TestSplitDocumentsSpan(t *testing.T) {
	rec := dispatcher.NewRecorder(0)
	defer dispatcher.Root().AddSpanHandler(rec)()
	s, err := NewSentenceSplitter(wordCounter{}, WithChunkSize(5), WithChunkOverlap(1))
	if err != nil {
		t.Fatal(err)
	}
	docs := []Document{{ID: "a", Text: "one two three. four five six. seven."}, {ID: "b", Text: "eight nine."}}
	nodes, err := s.SplitDocuments(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 3 || nodes[2].DocID != "b" {
		t.Fatalf("nodes: %+v", nodes)
	}
	var found bool
	for _, sp := range rec.Spans() {
		if sp.Name == "split" && sp.Scope == DispatcherName {
			v, _ := sp.Attr("split.nodes")
			found = v.AsInt64() == 3
		}
	}
	if !found {
		t.Fatal("no split span with split.nodes=3")
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("Hello world. This is a test!\n\nAnother paragraph? Yes.", 6, 2)
	f.Add(strings.Repeat("abc ", 50), 3, 1)
	f.Add("ünïcödé wörds. ", 2, 0)
	f.Fuzz(func(t *testing.T, text string, size, overlap int) {
		text = strings.ToValidUTF8(text, "?")
		size = 1 + int(uint(size)%64)
		overlap = int(uint(overlap) % uint(size))
		s, err := NewSentenceSplitter(runeCounter{}, WithChunkSize(size), WithChunkOverlap(overlap))
		if err != nil {
			t.Fatal(err)
		}
		d := Document{ID: "f", Text: text}
		checkNodes(t, s, d, s.Split(d))
	})
}

func TestSplitLongWordIsNotQuadratic(t *testing.T) {
	// 200k runes cut into 1-rune pieces: a quadratic cutter would take
	// minutes here; this one takes milliseconds.
	d := Document{ID: "long", Text: strings.Repeat("y", 200_000)}
	s, err := NewSentenceSplitter(runeCounter{}, WithChunkSize(1000), WithChunkOverlap(0))
	if err != nil {
		t.Fatal(err)
	}
	nodes := s.Split(d)
	if len(nodes) != 200 {
		t.Fatalf("got %d nodes, want 200", len(nodes))
	}
	checkNodes(t, s, d, nodes)
}
