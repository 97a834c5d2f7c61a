// Package web holds stagescope's dashboard: static HTML, CSS and plain
// JavaScript modules, plus the vendored uPlot chart library with its
// licence, embedded with go:embed so the binary serves them with no network
// access and no build step.
//
// The dashboard is a single page with hash routes (#/overview, #/traces,
// #/trace/<id>, #/bottlenecks, #/compare, #/live, #/runs) that reads the
// JSON API served by package handlers. Its scripts are files only (no inline
// script or inline event handlers), so a Content-Security-Policy with
// script-src 'self' holds, and every value that comes from a traced pipeline
// (span names, attributes, events, errors) is written with textContent or
// text nodes, never parsed as HTML.
//
// The package must not import anything beyond the standard library, serve
// HTTP itself or hold state: it only exposes the files.
package web
