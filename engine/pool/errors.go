package pool

import (
	"fmt"
	"strings"
)

// JobError is the failure of one job.
type JobError struct {
	Index int // the job's position in the input
	Err   error
}

func (e JobError) Error() string { return fmt.Sprintf("job %d: %v", e.Index, e.Err) }
func (e JobError) Unwrap() error { return e.Err }

// JobErrors is what RunJobs returns in collect-all mode when jobs failed:
// every failure, by input index.
type JobErrors struct {
	Pool   string
	Total  int        // jobs in the run
	Errors []JobError // in input order
}

// maxListed bounds how many failures Error spells out.
const maxListed = 5

func (e *JobErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pool %s: %d of %d jobs failed", e.Pool, len(e.Errors), e.Total)
	for i, je := range e.Errors {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more", len(e.Errors)-maxListed)
			break
		}
		b.WriteString("; ")
		b.WriteString(je.Error())
	}
	return b.String()
}

// Unwrap returns the jobs' errors, so errors.Is and errors.As look into each.
func (e *JobErrors) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, je := range e.Errors {
		out[i] = je.Err
	}
	return out
}

// ByIndex returns the error of job i, or nil.
func (e *JobErrors) ByIndex(i int) error {
	for _, je := range e.Errors {
		if je.Index == i {
			return je.Err
		}
	}
	return nil
}

// PanicError is a job's panic, recovered by the pool so that one bad job
// fails the run instead of the process.
type PanicError struct {
	Value any
	Stack string
}

func (e *PanicError) Error() string { return fmt.Sprintf("job panicked: %v", e.Value) }
