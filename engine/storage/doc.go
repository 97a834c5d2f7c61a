// Package storage keeps what an index is made of — a docstore of documents
// and nodes, an index store of index structures, and vector stores by
// namespace ("default" and any others) — in one StorageContext, and
// persists it to a directory of JSON files (docstore.json,
// index_store.json, <namespace>__vector_store.json) and loads it back.
//
// Every file is written to a temporary file in the same directory and
// renamed over the old one, so a crash never leaves a half-written store.
// The encoding is deterministic (sorted keys, vectors in insertion order,
// float32 values in their shortest exact form), so persist → load → persist
// gives byte-identical files. Persist and Load are "persist"/"load" spans
// (stage storage) with one child span and one StoragePersist/StorageLoad
// event, carrying bytes and duration, per file, through the dispatcher
// "engine.storage".
//
// The package must not embed, retrieve or decide what to index: it only
// keeps and moves bytes.
package storage
