// Package pool runs jobs on a bounded number of workers and returns their
// results in input order: stagescope's counterpart of LlamaIndex's run_jobs
// and batch_gather.
//
// A RunJobs call is one span (stage pool) and each job is a child span whose
// context is the parent of the job's own spans, so work fanned out across
// goroutines keeps its place in the trace. Each job span records its queue
// wait (from being queued to being picked up by a worker) and its run time
// separately: the analysis uses the two to tell a saturated pool (long
// waits: add workers) from slow work (long runs). Progress is always emitted
// as events, and drawn as a terminal progress bar when asked for.
//
// When no handler listens, the pool takes no timestamps and builds no events:
// its overhead is a few atomic operations per job. The package must not
// retry, time out or rate-limit jobs; those are the jobs' business (see
// engine/retry).
package pool
