// Package jobs tracks long operator work that runs in the background (a bulk
// replay), so the admin API can report its progress while it runs.
package jobs

import (
	"sync"
	"time"
)

// Job is a bulk replay running in the background; operators poll it for
// progress.
type Job struct {
	ID       string
	Operator string
	Started  time.Time

	mu       sync.Mutex
	total    int
	done     int
	failed   int
	errors   []string
	finished time.Time
}

// Status is a job as reported.
type Status struct {
	ID       string    `json:"id"`
	Operator string    `json:"operator"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Total    int       `json:"total"`
	Replayed int       `json:"replayed"`
	Failed   int       `json:"failed"`
	Errors   []string  `json:"errors,omitempty"`
	Running  bool      `json:"running"`
}

// NewJob starts counting.
func NewJob(id, operator string) *Job {
	return &Job{ID: id, Operator: operator, Started: time.Now().UTC()}
}

// AddTotal grows the number of messages selected.
func (j *Job) AddTotal(n int) { j.mu.Lock(); j.total += n; j.mu.Unlock() }

// Step counts one message replayed, or failed with err.
func (j *Job) Step(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		j.failed++
		if len(j.errors) < 20 {
			j.errors = append(j.errors, err.Error())
		}
		return
	}
	j.done++
}

// Finish marks the job done.
func (j *Job) Finish() { j.mu.Lock(); j.finished = time.Now().UTC(); j.mu.Unlock() }

// Snapshot is the job's state now.
func (j *Job) Snapshot() Status {
	j.mu.Lock()
	defer j.mu.Unlock()
	return Status{ID: j.ID, Operator: j.Operator, Started: j.Started, Finished: j.finished, Total: j.total,
		Replayed: j.done, Failed: j.failed, Errors: append([]string(nil), j.errors...), Running: j.finished.IsZero()}
}

// Restore is a job as s reported it, for a node that reads a job another
// node runs (or ran), and for the node that resumes it.
func Restore(s Status) *Job {
	j := &Job{ID: s.ID, Operator: s.Operator, Started: s.Started, total: s.Total, done: s.Replayed, failed: s.Failed,
		errors: append([]string(nil), s.Errors...)}
	if !s.Running {
		j.finished = s.Finished
		if j.finished.IsZero() {
			j.finished = s.Started // a stored job said finished without a time
		}
	}
	return j
}
