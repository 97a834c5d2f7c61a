package tokens

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// benchText is real text: the Go sources of a few standard packages.
func benchText(b *testing.B) string {
	b.Helper()
	var sb strings.Builder
	for _, dir := range []string{"strings", "bufio", "sort"} {
		files, _ := filepath.Glob(filepath.Join(runtime.GOROOT(), "src", dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			sb.Write(data)
		}
	}
	if sb.Len() == 0 {
		b.Skip("no Go sources under GOROOT")
	}
	return sb.String()
}

func benchmarkCount(b *testing.B, name string) {
	text := benchText(b)
	e, err := Encoding(name)
	if err != nil {
		b.Fatal(err)
	}
	n := e.Count(text)
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		e.Count(text)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkCountCL100K(b *testing.B) { benchmarkCount(b, CL100KBase) }
func BenchmarkCountO200K(b *testing.B)  { benchmarkCount(b, O200KBase) }
