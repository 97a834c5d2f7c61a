package document

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// stopwords are English function words that carry no topic; dropping them
// keeps keyword scores on the words that matter.
var stopwords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, w := range strings.Fields(`a an and are as at be been but by can could did do does
		for from had has have how if in into is it its it's may might must no not of on or
		our so such than that the their them then there these they this those to too was
		we were what when where which while who whom whose why will with would you your`) {
		m[w] = struct{}{}
	}
	return m
}()

// Terms splits text into lower-case index terms: runs of letters and digits,
// with English stopwords and one-character runs dropped and a light plural
// stemming applied ("returns" → "return", "entries" → "entry"). The same
// analysis must be used at index and at query time.
func Terms(text string) []string {
	out := make([]string, 0, len(text)/6)
	return AppendTerms(out, text)
}

// AppendTerms appends the terms of text to dst and returns it, so a caller
// can reuse a buffer across texts.
func AppendTerms(dst []string, text string) []string {
	start := -1
	for i, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			dst = appendTerm(dst, text[start:i])
			start = -1
		}
	}
	if start >= 0 {
		dst = appendTerm(dst, text[start:])
	}
	return dst
}

func appendTerm(dst []string, w string) []string {
	if utf8.RuneCountInString(w) < 2 {
		return dst
	}
	w = lower(w)
	if _, stop := stopwords[w]; stop {
		return dst
	}
	return append(dst, stem(w))
}

// lower avoids strings.ToLower's allocation for words that are already
// lower-case ASCII, the common case.
func lower(w string) string {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return strings.ToLower(w)
		}
	}
	return w
}

// stem strips the commonest English plural endings. It is deliberately
// light: over-stemming merges words a user keeps apart.
func stem(w string) string {
	n := len(w)
	switch {
	case n > 4 && strings.HasSuffix(w, "ies"):
		return w[:n-3] + "y"
	case n > 4 && (strings.HasSuffix(w, "sses") || strings.HasSuffix(w, "xes") || strings.HasSuffix(w, "ches") || strings.HasSuffix(w, "shes")):
		return w[:n-2]
	case n > 3 && w[n-1] == 's' && w[n-2] != 's' && w[n-2] != 'u' && w[n-2] != 'i':
		return w[:n-1]
	}
	return w
}
