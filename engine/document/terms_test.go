package document

import (
	"slices"
	"testing"
)

func TestTerms(t *testing.T) {
	got := Terms("The Reader returns the entries; it's a ReadCloser, x y classes 42 boxes.")
	want := []string{"reader", "return", "entry", "readcloser", "class", "42", "box"}
	if !slices.Equal(got, want) {
		t.Fatalf("Terms = %q, want %q", got, want)
	}
	if n := len(Terms("of the a an")); n != 0 {
		t.Fatalf("stopwords gave %d terms", n)
	}
	if got := Terms("Ünïcode STRASSE status"); !slices.Equal(got, []string{"ünïcode", "strasse", "status"}) {
		t.Fatalf("Terms = %q", got)
	}
}
