package tokens

import (
	"slices"
	"strings"
	"sync"
	"testing"
)

// The expected ids were computed once with these encoders and agree with
// OpenAI's published examples for "hello world".
func TestKnownCounts(t *testing.T) {
	cases := []struct {
		enc, text string
		ids       []int
	}{
		{CL100KBase, "hello world", []int{15339, 1917}},
		{O200KBase, "hello world", []int{24912, 2375}},
		{CL100KBase, "Retrieval-augmented generation is fun!", []int{12289, 7379, 838, 7561, 773, 28078, 9659, 374, 2523, 0}},
		{O200KBase, "Retrieval-augmented generation is fun!", []int{41969, 29979, 12, 13610, 34982, 13986, 382, 2827, 0}},
		{CL100KBase, "The quick brown fox jumps over the lazy dog.", []int{791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13}},
		{O200KBase, "func main() { fmt.Println(\"héllo, 世界\") }", []int{5652, 2758, 416, 354, 18237, 28250, 568, 79163, 72807, 11, 185558, 1405, 388}},
		// Special-token markers in data are ordinary text.
		{CL100KBase, "<|endoftext|>", []int{27, 91, 8862, 728, 428, 91, 29}},
	}
	for _, c := range cases {
		e, err := Encoding(c.enc)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Encode(c.text); !slices.Equal(got, c.ids) {
			t.Errorf("%s Encode(%q) = %v, want %v", c.enc, c.text, got, c.ids)
		}
		if got := e.Count(c.text); got != len(c.ids) {
			t.Errorf("%s Count(%q) = %d, want %d", c.enc, c.text, got, len(c.ids))
		}
		if got := e.Decode(c.ids); got != c.text {
			t.Errorf("%s Decode = %q, want %q", c.enc, got, c.text)
		}
	}
	e, _ := Encoding(CL100KBase)
	if e.Count("") != 0 {
		t.Error("empty text must count 0")
	}
}

func TestEncodingIsCached(t *testing.T) {
	a, err := Encoding(O200KBase)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Encoding(O200KBase)
	if a != b {
		t.Error("Encoding must return the same cached encoder")
	}
	if a.Name() != O200KBase {
		t.Errorf("Name = %q", a.Name())
	}
	if _, err := Encoding("no_such_base"); err == nil || !strings.Contains(err.Error(), "no_such_base") {
		t.Errorf("unknown encoding error = %v", err)
	}
}

func TestForModel(t *testing.T) {
	for model, want := range map[string]string{
		"gpt-4o":                 O200KBase,
		"gpt-4o-2024-05-13":      O200KBase,
		"openai/gpt-4o-mini":     O200KBase,
		"gpt-4":                  CL100KBase,
		"gpt-4-0613":             CL100KBase,
		"gpt-3.5-turbo":          CL100KBase,
		"gpt-3.5-turbo-0125":     CL100KBase,
		"text-embedding-3-small": CL100KBase,
	} {
		e, err := ForModel(model)
		if err != nil {
			t.Errorf("ForModel(%q): %v", model, err)
			continue
		}
		if e.Name() != want {
			t.Errorf("ForModel(%q) = %s, want %s", model, e.Name(), want)
		}
	}
	_, err := ForModel("llama3.1:8b")
	if err == nil || !strings.Contains(err.Error(), "llama3.1:8b") {
		t.Errorf("unknown model error = %v", err)
	}
	if got := ForModelOrDefault("llama3.1:8b").Name(); got != DefaultEncoding {
		t.Errorf("fallback = %s", got)
	}
	if got := ForModelOrDefault("gpt-4o").Name(); got != O200KBase {
		t.Errorf("ForModelOrDefault(gpt-4o) = %s", got)
	}
}

func TestConcurrentCounting(t *testing.T) {
	text := strings.Repeat("Worker pools bound concurrency; retries back off with jitter. ", 20)
	want := map[string]int{}
	for _, n := range []string{CL100KBase, O200KBase} {
		e, _ := Encoding(n)
		want[n] = e.Count(text)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := []string{CL100KBase, O200KBase}[g%2]
			for i := 0; i < 20; i++ {
				e, err := Encoding(n)
				if err != nil {
					errs <- err.Error()
					return
				}
				if c := e.Count(text); c != want[n] {
					errs <- n
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent count mismatch: %s", e)
	}
}
