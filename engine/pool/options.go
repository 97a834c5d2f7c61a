package pool

import (
	"io"

	"github.com/stagescope/stagescope/dispatcher"
)

// Defaults.
const (
	DefaultWorkers = 4
	DefaultName    = "pool"
	// DefaultDispatcher is the name of the dispatcher pool spans go to.
	DefaultDispatcher = "engine.pool"
	// DefaultChunkSize 0 means the whole job list is one chunk.
	DefaultChunkSize = 0
)

// Option configures RunJobs.
type Option func(*config)

type config struct {
	workers   int
	name      string
	collect   bool
	chunkSize int
	progress  io.Writer
	d         *dispatcher.Dispatcher
}

func newConfig(opts []Option) config {
	c := config{workers: DefaultWorkers, name: DefaultName, chunkSize: DefaultChunkSize}
	for _, o := range opts {
		o(&c)
	}
	if c.workers < 1 {
		c.workers = 1
	}
	if c.name == "" {
		c.name = DefaultName
	}
	if c.d == nil {
		c.d = dispatcher.Get(DefaultDispatcher)
	}
	return c
}

// WithWorkers sets how many jobs run at once (at least 1; default
// DefaultWorkers).
func WithWorkers(n int) Option { return func(c *config) { c.workers = n } }

// WithName names the pool in its span, its job spans (name+".job") and its
// events (default DefaultName).
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithCollectErrors runs every job even when some fail and returns all the
// failures as a *JobErrors. The default is fail-fast: the first error
// cancels the context of the running jobs and no further job starts.
func WithCollectErrors() Option { return func(c *config) { c.collect = true } }

// WithChunkSize processes the job list n jobs at a time: chunk k+1 is queued
// only when chunk k is done, so per-job bookkeeping (and any memory the jobs
// hold while queued) stays bounded by n for very large lists. n ≤ 0 means
// one chunk.
func WithChunkSize(n int) Option { return func(c *config) { c.chunkSize = n } }

// WithProgress draws a progress bar on w when w is a terminal (typically
// os.Stderr); on anything else nothing is written. PoolProgress events are
// emitted either way.
func WithProgress(w io.Writer) Option { return func(c *config) { c.progress = w } }

// WithDispatcher sets the dispatcher of the pool's spans and events
// (default dispatcher.Get(DefaultDispatcher)).
func WithDispatcher(d *dispatcher.Dispatcher) Option { return func(c *config) { c.d = d } }
