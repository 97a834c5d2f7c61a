package synth

import (
	"strings"
	"unicode/utf8"

	"github.com/stagescope/stagescope/engine/tokens"
)

// pack joins chunks, in order, into as few texts of at most room tokens as
// it can; a chunk larger than room is split first.
func pack(counter tokens.Counter, chunks []string, room int) []string {
	var out []string
	var cur strings.Builder
	curTokens := 0
	sep := counter.Count(chunkSeparator)
	for _, chunk := range chunks {
		for _, piece := range split(counter, chunk, room) {
			n := counter.Count(piece)
			if cur.Len() > 0 && curTokens+sep+n <= room {
				cur.WriteString(chunkSeparator)
				cur.WriteString(piece)
				curTokens += sep + n
				continue
			}
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			cur.WriteString(piece)
			curTokens = n
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// split cuts text into pieces of at most room tokens at word boundaries
// (inside a word when one word alone is too long). The pieces are sized by
// the sum of their words' counts, which never undercounts much and keeps
// the work linear.
func split(counter tokens.Counter, text string, room int) []string {
	if counter.Count(text) <= room {
		return []string{text}
	}
	var out []string
	var cur strings.Builder
	curTokens := 0
	for _, w := range strings.Fields(text) {
		n := counter.Count(" " + w)
		for n > room { // a single word longer than the room
			cut := len(w) * room / (n + 1)
			for cut > 0 && !utf8.RuneStart(w[cut]) {
				cut--
			}
			if cut < 1 {
				_, cut = utf8.DecodeRuneInString(w)
			}
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
				curTokens = 0
			}
			out = append(out, w[:cut])
			w = w[cut:]
			n = counter.Count(" " + w)
		}
		if cur.Len() > 0 && curTokens+n > room {
			out = append(out, cur.String())
			cur.Reset()
			curTokens = 0
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(w)
		curTokens += n
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}
