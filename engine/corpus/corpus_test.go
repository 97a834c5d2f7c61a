package corpus

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A small fake GOROOT whose documents are known exactly.
func TestLoadFakeGoroot(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "src")
	writeFile(t, filepath.Join(src, "shape", "shape.go"), `// Package shape measures plane figures.
package shape

// Circle is a round plane figure given by its radius.
type Circle struct{ R float64 }

// Area returns the area enclosed by the circle, pi times the radius squared.
func (c Circle) Area() float64 { return 3.14 * c.R * c.R }

// NewCircle makes a circle with the given radius in metres.
func NewCircle(r float64) Circle { return Circle{r} }

// Pi approximates the ratio of circumference to diameter.
const Pi = 3.14

// hidden is not exported.
func hidden() {}

// Undocumented things are skipped.
func Undocumented() {}
`)
	writeFile(t, filepath.Join(src, "shape", "shape_test.go"), "package shape\n\n// TestX is a test.\nfunc TestX() {}\n")
	writeFile(t, filepath.Join(src, "shape", "internal", "x", "x.go"), "// Package x is internal.\npackage x\n")
	writeFile(t, filepath.Join(src, "shape", "testdata", "y.go"), "// Package y is test data.\npackage y\n")
	writeFile(t, filepath.Join(src, "cmd", "tool", "main.go"), "// Tool is a command.\npackage main\n")
	writeFile(t, filepath.Join(src, "shape", "gen", "gen.go"), "// Gen generates.\npackage main\n")

	c, err := Load(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range c.Documents {
		ids = append(ids, d.ID)
	}
	want := []string{"pkg:shape", "shape.Circle", "shape.Circle.Area", "shape.NewCircle", "shape.Pi", "shape.Undocumented"}
	if !slices.Equal(ids, want) {
		t.Fatalf("documents %v, want %v", ids, want)
	}
	if m := c.Documents[2].Metadata; m[MetaKind] != "method" || m[MetaName] != "Circle.Area" || m[MetaPackage] != "shape" {
		t.Fatalf("metadata %v", m)
	}
	qs := map[string]string{}
	for _, q := range c.Questions {
		qs[q.ExpectedDocID] = q.Query
	}
	wantQs := map[string]string{
		"shape.Circle":      "is a round plane figure given by its radius.",
		"shape.Circle.Area": "returns the area enclosed by the circle, pi times the radius squared.",
		"shape.NewCircle":   "makes a circle with the given radius in metres.",
		"shape.Pi":          "approximates the ratio of circumference to diameter.",
	}
	if !reflect.DeepEqual(qs, wantQs) {
		t.Fatalf("questions %v, want %v", qs, wantQs)
	}
}

func TestLoadStandardLibrary(t *testing.T) {
	ctx := context.Background()
	c, err := Load(ctx, GOROOT(), WithPackages("strings", "bytes", "io"), WithQuestions(40), WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Documents) < 200 || len(c.Questions) != 40 {
		t.Fatalf("%d documents, %d questions", len(c.Documents), len(c.Questions))
	}
	byID := map[string]bool{}
	for _, d := range c.Documents {
		p := d.Metadata[MetaPackage]
		if p != "strings" && p != "bytes" && p != "io" && !strings.HasPrefix(p, "io/") {
			t.Fatalf("document %s from package %s", d.ID, p)
		}
		if byID[d.ID] {
			t.Fatalf("document %s twice", d.ID)
		}
		byID[d.ID] = true
	}
	for _, id := range []string{"pkg:strings", "strings.Builder", "strings.Builder.WriteString", "io.Reader", "io/fs.FS"} {
		if !byID[id] {
			t.Fatalf("no document %s", id)
		}
	}
	for _, q := range c.Questions {
		short := q.Name[strings.LastIndexByte(q.Name, '.')+1:]
		if !byID[q.ExpectedDocID] || regexp.MustCompile(`\b`+short+`\b`).MatchString(q.Query) {
			t.Fatalf("bad question %+v", q)
		}
	}
	again, err := Load(ctx, GOROOT(), WithPackages("strings", "bytes", "io"), WithQuestions(40), WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, again) {
		t.Fatal("two loads with the same seed differ")
	}
	other, _ := Load(ctx, GOROOT(), WithPackages("strings", "bytes", "io"), WithQuestions(40), WithSeed(8))
	if reflect.DeepEqual(c.Questions, other.Questions) {
		t.Fatal("another seed drew the same questions")
	}
	limited, _ := Load(ctx, GOROOT(), WithLimit(25))
	if len(limited.Documents) != 25 || limited.Documents[0].ID != "pkg:archive/tar" {
		t.Fatalf("limit 25 gave %d documents starting at %s", len(limited.Documents), limited.Documents[0].ID)
	}
}

func TestLoadMissingGoroot(t *testing.T) {
	if _, err := Load(context.Background(), filepath.Join(t.TempDir(), "nope")); err == nil || !strings.Contains(err.Error(), "no Go sources") {
		t.Fatalf("err = %v", err)
	}
}

func TestQuestion(t *testing.T) {
	for _, tc := range []struct {
		sentence, name, want string
		ok                   bool
	}{
		{"ReadFile reads the named file and returns the contents.", "ReadFile", "reads the named file and returns the contents.", true},
		{"Len returns x.", "Len", "", false},
		{"Something unrelated to it entirely here.", "Reader", "", false},
		{"A Reader implements reading of bytes from a Readers source.", "Reader", "A implements reading of bytes from a Readers source.", true},
	} {
		got, ok := question(tc.sentence, tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("question(%q, %q) = %q, %v; want %q, %v", tc.sentence, tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
