package document_test

import (
	"fmt"
	"strings"

	"github.com/stagescope/stagescope/engine/document"
)

// words counts white-space separated words; a real pipeline passes a
// tiktoken encoder from engine/tokens.
type words struct{}

func (words) Count(s string) int { return len(strings.Fields(s)) }

func ExampleSentenceSplitter() {
	s, err := document.NewSentenceSplitter(words{}, document.WithChunkSize(8), document.WithChunkOverlap(3))
	if err != nil {
		panic(err)
	}
	d := document.Document{ID: "io", Text: "Reader reads bytes. Writer writes bytes. Closer closes. Seeker seeks to an offset."}
	for _, n := range s.Split(d) {
		fmt.Printf("%s [%d,%d) %q\n", n.ID, n.StartChar, n.EndChar, n.Text)
	}
	// Output:
	// io#0 [0,55) "Reader reads bytes. Writer writes bytes. Closer closes."
	// io#1 [41,82) "Closer closes. Seeker seeks to an offset."
}
