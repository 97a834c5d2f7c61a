package event

import (
	"time"

	"github.com/stagescope/stagescope/spans"
)

// StoragePersist: a store was written to disk.
type StoragePersist struct {
	Header
	Store     string        `json:"store"` // docstore, index_store, vector_store
	Namespace string        `json:"namespace"`
	Path      string        `json:"path"`
	Bytes     int64         `json:"bytes"`
	Duration  time.Duration `json:"duration"`
}

func (*StoragePersist) Name() string       { return "storage.persist" }
func (*StoragePersist) Stage() spans.Stage { return spans.StageStorage }
func (e *StoragePersist) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("storage.store", e.Store), spans.String("storage.namespace", e.Namespace), spans.String("storage.path", e.Path), spans.Int64("storage.bytes", e.Bytes), spans.Int64("storage.duration_ns", int64(e.Duration))}
}

// StorageLoad: a store was read from disk.
type StorageLoad struct {
	Header
	Store     string        `json:"store"`
	Namespace string        `json:"namespace"`
	Path      string        `json:"path"`
	Bytes     int64         `json:"bytes"`
	Duration  time.Duration `json:"duration"`
}

func (*StorageLoad) Name() string       { return "storage.load" }
func (*StorageLoad) Stage() spans.Stage { return spans.StageStorage }
func (e *StorageLoad) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("storage.store", e.Store), spans.String("storage.namespace", e.Namespace), spans.String("storage.path", e.Path), spans.Int64("storage.bytes", e.Bytes), spans.Int64("storage.duration_ns", int64(e.Duration))}
}
