package web_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/stagescope/stagescope/web"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(web.FS(), name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

// The page must run under script-src 'self': no inline script, no inline
// event handler attributes, no javascript: URLs, and no address outside the
// server (the dashboard works offline).
func TestIndexHasNoInlineScriptOrRemoteAssets(t *testing.T) {
	html := read(t, web.IndexFile)
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1)
	if len(scripts) != 2 {
		t.Fatalf("want 2 script tags (uPlot and app.js), got %d: %v", len(scripts), scripts)
	}
	for _, s := range scripts {
		if !strings.Contains(s, `src="/assets/`) {
			t.Errorf("script without a same-origin src: %s", s)
		}
	}
	if regexp.MustCompile(`<script[^>]*>[^<]+</script>`).MatchString(html) {
		t.Error("inline script body found")
	}
	if m := regexp.MustCompile(`\son[a-z]+\s*=`).FindString(html); m != "" {
		t.Errorf("inline event handler attribute %q", m)
	}
	for _, bad := range []string{"javascript:", "http://", "https://", "//cdn"} {
		if strings.Contains(html, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
}

// Every module the dashboard imports is embedded, and no script builds
// markup from strings.
func TestScriptsAreEmbeddedAndNeverParseHTML(t *testing.T) {
	imports := regexp.MustCompile(`from '(\./[^']+|\.\./[^']+)'`)
	var files []string
	err := fs.WalkDir(web.FS(), "js", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("want at least 10 scripts (app, api, dom, format, charts and 7 pages), got %v", files)
	}
	for _, f := range files {
		src := read(t, f)
		for _, bad := range []string{".innerHTML =", ".innerHTML=", ".outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s", f, bad)
			}
		}
		dir := f[:strings.LastIndex(f, "/")]
		for _, m := range imports.FindAllStringSubmatch(src, -1) {
			target := resolve(dir, m[1])
			if _, err := fs.Stat(web.FS(), target); err != nil {
				t.Errorf("%s imports %s, which is not embedded (%v)", f, m[1], err)
			}
		}
	}
}

func resolve(dir, rel string) string {
	parts := strings.Split(dir, "/")
	for _, p := range strings.Split(rel, "/") {
		switch p {
		case ".":
		case "..":
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

// The chart library is vendored with its licence.
func TestVendoredChartLibraryWithLicence(t *testing.T) {
	if lic := read(t, "vendor/uplot/LICENSE"); !strings.Contains(lic, "MIT License") {
		t.Errorf("uPlot LICENSE is not the MIT licence: %.80q", lic)
	}
	if js := read(t, "vendor/uplot/uPlot.iife.min.js"); len(js) < 20_000 || !strings.Contains(js, "uPlot") {
		t.Errorf("uPlot.iife.min.js looks wrong (%d bytes)", len(js))
	}
	if css := read(t, "vendor/uplot/uPlot.min.css"); !strings.Contains(css, ".uplot") {
		t.Error("uPlot.min.css has no .uplot rule")
	}
}
