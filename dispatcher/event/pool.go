package event

import (
	"time"

	"github.com/stagescope/stagescope/spans"
)

// JobQueued: a job entered a worker pool's queue.
type JobQueued struct {
	Header
	Pool     string `json:"pool"`
	Job      int    `json:"job"`
	Workers  int    `json:"workers"`
	InFlight int    `json:"in_flight"`
}

func (*JobQueued) Name() string       { return "pool.job_queued" }
func (*JobQueued) Stage() spans.Stage { return spans.StagePool }
func (e *JobQueued) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("pool.name", e.Pool), spans.Int("pool.job", e.Job), spans.Int("pool.workers", e.Workers), spans.Int("pool.in_flight", e.InFlight)}
}

// JobStarted: a worker picked a job up after it waited QueueWait.
type JobStarted struct {
	Header
	Pool      string        `json:"pool"`
	Job       int           `json:"job"`
	Workers   int           `json:"workers"`
	InFlight  int           `json:"in_flight"`
	QueueWait time.Duration `json:"queue_wait"`
}

func (*JobStarted) Name() string       { return "pool.job_started" }
func (*JobStarted) Stage() spans.Stage { return spans.StagePool }
func (e *JobStarted) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("pool.name", e.Pool), spans.Int("pool.job", e.Job), spans.Int("pool.workers", e.Workers), spans.Int("pool.in_flight", e.InFlight), spans.Int64("pool.queue_wait_ns", int64(e.QueueWait))}
}

// JobFinished: a job ended; QueueWait and RunTime are measured separately.
type JobFinished struct {
	Header
	Pool      string        `json:"pool"`
	Job       int           `json:"job"`
	QueueWait time.Duration `json:"queue_wait"`
	RunTime   time.Duration `json:"run_time"`
	Err       string        `json:"error,omitempty"`
}

func (*JobFinished) Name() string       { return "pool.job_finished" }
func (*JobFinished) Stage() spans.Stage { return spans.StagePool }
func (e *JobFinished) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("pool.name", e.Pool), spans.Int("pool.job", e.Job), spans.Int64("pool.queue_wait_ns", int64(e.QueueWait)), spans.Int64("pool.run_time_ns", int64(e.RunTime)), spans.String("error", e.Err)}
}

// PoolProgress reports how far a pool run has got; emitted as jobs finish.
type PoolProgress struct {
	Header
	Pool   string `json:"pool"`
	Done   int    `json:"done"`
	Failed int    `json:"failed"`
	Total  int    `json:"total"`
}

func (*PoolProgress) Name() string       { return "pool.progress" }
func (*PoolProgress) Stage() spans.Stage { return spans.StagePool }
func (e *PoolProgress) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("pool.name", e.Pool), spans.Int("pool.done", e.Done), spans.Int("pool.failed", e.Failed), spans.Int("pool.total", e.Total)}
}
