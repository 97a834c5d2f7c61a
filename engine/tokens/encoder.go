package tokens

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	tiktoken "github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// Encoding names.
const (
	CL100KBase = "cl100k_base" // gpt-4, gpt-3.5-turbo, text-embedding-3-*
	O200KBase  = "o200k_base"  // gpt-4o, gpt-4.1, o1, o3 …

	// DefaultEncoding is what ForModelOrDefault falls back to.
	DefaultEncoding = CL100KBase
)

// Encoder turns text into the token ids of one encoding and back. It is safe
// for concurrent use.
type Encoder struct {
	name string
	tk   *tiktoken.Tiktoken
}

type cacheEntry struct {
	once sync.Once
	enc  *Encoder
	err  error
}

var (
	loaderOnce sync.Once
	cache      sync.Map // encoding name → *cacheEntry
)

// Encoding returns the cached encoder for name ("cl100k_base",
// "o200k_base", and tiktoken's older p50k_base and r50k_base). The first
// call for a name loads its vocabulary from the embedded offline files,
// which takes a fraction of a second; later calls are a map lookup.
func Encoding(name string) (*Encoder, error) {
	v, _ := cache.LoadOrStore(name, &cacheEntry{})
	e := v.(*cacheEntry)
	e.once.Do(func() {
		// The library's default loader downloads vocabularies; ours must
		// never touch the network. SetBpeLoader writes a package variable,
		// so do it exactly once, before any encoding is loaded.
		loaderOnce.Do(func() { tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader()) })
		tk, err := tiktoken.GetEncoding(name)
		if err != nil {
			e.err = fmt.Errorf("cannot load token encoding %q: %w", name, err)
			return
		}
		e.enc = &Encoder{name: name, tk: tk}
	})
	return e.enc, e.err
}

// ForModel returns the encoder an OpenAI model uses: gpt-4o, gpt-4.1, o1 and
// their dated variants use o200k_base; gpt-4 and gpt-3.5-turbo use
// cl100k_base. A provider prefix ("openai/gpt-4o") is ignored. An unknown
// model is an error; use ForModelOrDefault to fall back.
func ForModel(model string) (*Encoder, error) {
	name, ok := encodingNameForModel(model)
	if !ok {
		return nil, fmt.Errorf("no known token encoding for model %q (use tokens.ForModelOrDefault or tokens.Encoding)", model)
	}
	return Encoding(name)
}

// ForModelOrDefault is ForModel falling back to DefaultEncoding for models
// it does not know (local and open-weight models, for which cl100k_base is a
// fair estimate).
func ForModelOrDefault(model string) *Encoder {
	if e, err := ForModel(model); err == nil {
		return e
	}
	e, err := Encoding(DefaultEncoding)
	if err != nil {
		// The offline vocabularies are compiled into the binary; failing
		// to parse them is a broken build, not a run-time condition.
		panic(err)
	}
	return e
}

func encodingNameForModel(model string) (string, bool) {
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		model = model[i+1:]
	}
	if name, ok := tiktoken.MODEL_TO_ENCODING[model]; ok {
		return name, true
	}
	// Longest matching prefix wins, so the answer does not depend on map
	// iteration order.
	prefixes := make([]string, 0, len(tiktoken.MODEL_PREFIX_TO_ENCODING))
	for p := range tiktoken.MODEL_PREFIX_TO_ENCODING {
		prefixes = append(prefixes, p)
	}
	slices.SortFunc(prefixes, func(a, b string) int { return len(b) - len(a) })
	for _, p := range prefixes {
		if strings.HasPrefix(model, p) {
			return tiktoken.MODEL_PREFIX_TO_ENCODING[p], true
		}
	}
	return "", false
}

// Name returns the encoding's name.
func (e *Encoder) Name() string { return e.name }

// Encode returns the token ids of s. Special-token markers such as
// "<|endoftext|>" are encoded as ordinary text: pipeline input is data, not
// control.
func (e *Encoder) Encode(s string) []int { return e.tk.EncodeOrdinary(s) }

// Count returns the number of tokens in s.
func (e *Encoder) Count(s string) int {
	if s == "" {
		return 0
	}
	return len(e.tk.EncodeOrdinary(s))
}

// Decode returns the text of ids.
func (e *Encoder) Decode(ids []int) string { return e.tk.Decode(ids) }
