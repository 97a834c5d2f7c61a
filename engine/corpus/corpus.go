package corpus

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/stagescope/stagescope/engine/document"
)

// Defaults of Load.
const (
	DefaultQuestions = 200
	DefaultSeed      = 1
	// MinQuestionTerms is the fewest index terms a question must keep once
	// the name is removed; shorter ones ("returns x.") say too little.
	MinQuestionTerms = 4
)

// Metadata keys of corpus documents.
const (
	MetaPackage = "package" // import path
	MetaName    = "name"    // identifier ("Reader", "Reader.Read"); empty for a package
	MetaKind    = "kind"    // package, func, type, method, const, var
)

// Question is a labelled query: a retriever that works should return the
// document ExpectedDocID near the top.
type Question struct {
	Query         string `json:"query"`
	ExpectedDocID string `json:"expected_doc_id"`
	Package       string `json:"package"`
	Name          string `json:"name"`
}

// Corpus is the documents and the questions about them.
type Corpus struct {
	Documents []document.Document
	Questions []Question
}

// Option configures Load.
type Option func(*config)

type config struct {
	limit     int
	packages  []string
	questions int
	seed      uint64
}

// WithLimit stops after n documents (0: no limit), so tests stay fast.
func WithLimit(n int) Option { return func(c *config) { c.limit = n } }

// WithPackages keeps only packages whose import path is one of paths or
// lies below one of them ("net" keeps net, net/http, …).
func WithPackages(paths ...string) Option {
	return func(c *config) { c.packages = append(c.packages, paths...) }
}

// WithQuestions sets how many questions to derive (DefaultQuestions); fewer
// come back if the corpus has fewer candidates.
func WithQuestions(n int) Option { return func(c *config) { c.questions = n } }

// WithSeed sets the seed of the question draw (DefaultSeed).
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// GOROOT returns go/build's idea of the Go root (the toolchain that built
// the program, or the GOROOT the process was started with): usually what
// `go env GOROOT` prints. It may be empty for a binary built with -trimpath;
// a command should then ask `go env GOROOT` and pass the answer to Load.
func GOROOT() string { return build.Default.GOROOT }

// Load reads the standard library under goroot/src.
func Load(ctx context.Context, goroot string, opts ...Option) (*Corpus, error) {
	c := config{questions: DefaultQuestions, seed: DefaultSeed}
	for _, o := range opts {
		o(&c)
	}
	src := filepath.Join(goroot, "src")
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("no Go sources under %q: %w", src, err)
	}
	var dirs []string
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(src, path)
		rel = filepath.ToSlash(rel)
		name := d.Name()
		if path != src && (name == "testdata" || name == "internal" || name == "vendor" || rel == "cmd" ||
			strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if path != src && wanted(rel, c.packages) {
			dirs = append(dirs, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking %s: %w", src, err)
	}
	corpus := &Corpus{}
	var candidates []Question
	bctx := build.Default
	bctx.GOROOT = goroot
	for _, rel := range dirs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("loading the Go corpus: %w", err)
		}
		docs, qs, err := loadPackage(&bctx, filepath.Join(src, filepath.FromSlash(rel)), rel)
		if err != nil {
			return nil, err
		}
		for i, d := range docs {
			if c.limit > 0 && len(corpus.Documents) >= c.limit {
				break
			}
			corpus.Documents = append(corpus.Documents, d)
			if q, ok := qs[i]; ok {
				candidates = append(candidates, q)
			}
		}
		if c.limit > 0 && len(corpus.Documents) >= c.limit {
			break
		}
	}
	r := rand.New(rand.NewPCG(c.seed, c.seed^0x5eed))
	r.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	corpus.Questions = candidates[:min(c.questions, len(candidates))]
	return corpus, nil
}

func wanted(rel string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// loadPackage returns the documents of the package in dir and, by index
// into them, the question each identifier document yields.
func loadPackage(bctx *build.Context, dir, importPath string) ([]document.Document, map[int]Question, error) {
	bp, err := bctx.ImportDir(dir, build.ImportComment)
	var noGo *build.NoGoError
	if errors.As(err, &noGo) {
		return nil, nil, nil
	}
	if err != nil {
		var multi *build.MultiplePackageError
		if errors.As(err, &multi) {
			return nil, nil, nil // a directory of generators and such
		}
		return nil, nil, fmt.Errorf("reading package %s: %w", importPath, err)
	}
	if bp.Name == "main" || len(bp.GoFiles) == 0 {
		return nil, nil, nil
	}
	fset := token.NewFileSet()
	files := make([]*ast.File, 0, len(bp.GoFiles))
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, nil, fmt.Errorf("parsing %s/%s: %w", importPath, name, err)
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, importPath)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the documentation of %s: %w", importPath, err)
	}
	var docs []document.Document
	qs := map[int]Question{}
	add := func(id, kind, name, text string) {
		text = strings.TrimSpace(text)
		if text == "" {
			return
		}
		docs = append(docs, document.Document{ID: id, Text: text, Metadata: map[string]string{MetaPackage: importPath, MetaName: name, MetaKind: kind}})
		if kind == "package" {
			return
		}
		short := name[strings.LastIndexByte(name, '.')+1:]
		if q, ok := question(p.Synopsis(text), short); ok {
			qs[len(docs)-1] = Question{Query: q, ExpectedDocID: id, Package: importPath, Name: name}
		}
	}
	add("pkg:"+importPath, "package", "", p.Doc)
	values := func(kind string, vs []*doc.Value) {
		for _, v := range vs {
			if len(v.Names) == 0 || !ast.IsExported(v.Names[0]) {
				continue
			}
			add(importPath+"."+v.Names[0], kind, v.Names[0], v.Doc)
		}
	}
	values("const", p.Consts)
	values("var", p.Vars)
	for _, f := range p.Funcs {
		add(importPath+"."+f.Name, "func", f.Name, f.Doc)
	}
	for _, t := range p.Types {
		add(importPath+"."+t.Name, "type", t.Name, t.Doc)
		values("const", t.Consts)
		values("var", t.Vars)
		for _, f := range t.Funcs {
			add(importPath+"."+f.Name, "func", f.Name, f.Doc)
		}
		for _, m := range t.Methods {
			add(importPath+"."+t.Name+"."+m.Name, "method", t.Name+"."+m.Name, m.Doc)
		}
	}
	// go/doc sorts within each group; make the whole package's order
	// independent of grouping, and drop repeats (same name declared under
	// several build constraints would be one document anyway).
	order := make([]int, len(docs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if docs[a].Metadata[MetaKind] == "package" {
			return -1
		}
		if docs[b].Metadata[MetaKind] == "package" {
			return 1
		}
		return strings.Compare(docs[a].ID, docs[b].ID)
	})
	sorted := make([]document.Document, 0, len(docs))
	sortedQs := map[int]Question{}
	for _, i := range order {
		if n := len(sorted); n > 0 && sorted[n-1].ID == docs[i].ID {
			continue
		}
		if q, ok := qs[i]; ok {
			sortedQs[len(sorted)] = q
		}
		sorted = append(sorted, docs[i])
	}
	return sorted, sortedQs, nil
}

// question removes name, as a whole word, from sentence. It fails when the
// name was not there (the sentence would give the answer away under another
// form, or not be about the identifier) or too little is left.
func question(sentence, name string) (string, bool) {
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`)
	if !re.MatchString(sentence) {
		return "", false
	}
	q := strings.Join(strings.Fields(re.ReplaceAllString(sentence, "")), " ")
	if len(document.Terms(q)) < MinQuestionTerms {
		return "", false
	}
	return q, true
}
