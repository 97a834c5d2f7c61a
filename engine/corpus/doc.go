// Package corpus builds a real, offline RAG corpus from the doc comments of
// the Go standard library under $(go env GOROOT)/src — thousands of
// documents on every machine that has Go — and a labelled question set
// derived from it.
//
// Each package with documentation gives a document ("pkg:<import path>"),
// and each exported function, type, method, constant or variable group with
// a doc comment gives one ("<import path>.<Name>" or
// "<import path>.<Type>.<Method>"). Test files, testdata, internal, vendor
// and cmd are skipped; build constraints are those of the running platform.
// Documents come in a fixed order (by import path, then by name).
//
// A question is the first sentence of an identifier's doc comment with the
// identifier's name removed; its expected hit is that identifier's
// document. Which identifiers become questions is drawn with a seeded
// shuffle, so the set is deterministic for a given seed and corpus.
//
// The package must not index or query: it only reads Go sources.
package corpus
