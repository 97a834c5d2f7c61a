package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var files embed.FS

// IndexFile is the dashboard's entry page inside FS.
const IndexFile = "index.html"

// FS returns the dashboard's files, rooted so that IndexFile is at the top
// and the rest lives under assets paths such as "js/app.js" and
// "vendor/uplot/uPlot.iife.min.js".
func FS() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		// fs.Sub fails only on an invalid path, and "static" is valid.
		panic(err)
	}
	return sub
}
