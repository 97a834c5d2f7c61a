package llm

import (
	"strings"
	"unicode"
)

// stopwords carry no evidence of relevance; they are dropped before
// scoring.
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be but by can do does for from has have how i if in into is it its
		of on or that the their them then there these this to was were what when where which who whom why will with you your
		about after all also any been before being between both each few more most no nor not only other our out over own
		same should so some such than too under until up very we what's while would given answer question query context
		information document documents provided below above following`) {
		m[w] = true
	}
	return m
}()

// terms returns the lower-cased words of s (letters, digits, underscores),
// without stopwords and one-letter words, crudely stemmed. Identifiers split on dots stay
// apart ("http.Client" → "http", "client").
func terms(s string) []string {
	words := strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
	})
	out := words[:0]
	for _, w := range words {
		w = strings.ToLower(w)
		if len(w) < 2 || stopwords[w] {
			continue
		}
		out = append(out, stem(w))
	}
	return out
}

// stem folds the plural and third-person "s" so that "sorts" meets "sort";
// it is deliberately crude: the extractive LLM matches, it does not parse.
func stem(w string) string {
	if len(w) > 3 && w[len(w)-1] == 's' && w[len(w)-2] != 's' && w[len(w)-2] != 'u' && w[len(w)-2] != 'i' {
		return w[:len(w)-1]
	}
	return w
}

// sentences splits text into sentences: at ., ! or ? followed by white
// space, and at line breaks that end a paragraph or a list item.
func sentences(text string) []string {
	var out []string
	for _, para := range strings.Split(text, "\n") {
		para = strings.TrimSpace(para)
		if para == "" {
			continue
		}
		start := 0
		for i := 0; i < len(para); i++ {
			c := para[i]
			if (c == '.' || c == '!' || c == '?') && (i+1 == len(para) || para[i+1] == ' ' || para[i+1] == '\t') {
				if s := strings.TrimSpace(para[start : i+1]); s != "" {
					out = append(out, s)
				}
				start = i + 1
			}
		}
		if s := strings.TrimSpace(para[start:]); s != "" {
			out = append(out, s)
		}
	}
	return out
}
