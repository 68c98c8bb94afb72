package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/minfin-kz/kopir/internal/jobs"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// Replayer re-queues DEAD (and FAILED async) messages, one or in bulk, and
// leaves an audit record naming the operator for each.
type Replayer struct {
	Worker *Worker
	// Jobs keeps bulk jobs and their progress where every node reads
	// them, so that any node answers for a job and another node resumes
	// it when the one running it dies; RunJobs runs them, on one node at a
	// time (the core holds a lease around it). Nil: jobs live and run in
	// this process only (a tool or a test).
	Jobs JobStore

	// ctx is the app's: bulk jobs stop with it, and Run waits for them.
	ctx  context.Context
	jobs sync.WaitGroup

	mu   sync.Mutex
	byID map[string]*jobs.Job
	wake chan struct{}
}

// JobStore keeps bulk replay jobs by id, as opaque records.
type JobStore interface {
	Put(ctx context.Context, id string, record []byte) error
	// Get returns ErrNoJob for an id it does not keep.
	Get(ctx context.Context, id string) ([]byte, error)
	IDs(ctx context.Context) ([]string, error)
}

// ErrNoJob is a JobStore's answer for an unknown job.
var ErrNoJob = errors.New("no such replay job")

// bulkRecord is a bulk job as kept: its progress, and what it selects
// from where it got to (Filter.AfterID: the last message it went through;
// Filter.Limit: how many it was asked for in all).
type bulkRecord struct {
	Status jobs.Status  `json:"status"`
	Filter store.Filter `json:"filter"`
}

// Replay re-queues one message.
func (rp *Replayer) Replay(ctx context.Context, id, operator string) (*store.Message, error) {
	st := rp.Worker.Store
	m, err := st.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if m.Status != store.Dead && m.Status != store.Failed {
		return nil, &problem.Problem{Type: "urn:kopir:problem:not-replayable", Title: "Message not replayable", Status: http.StatusConflict,
			Detail: fmt.Sprintf("message %s is %s; only DEAD or FAILED messages are replayed", id, m.Status), MessageID: id}
	}
	r, ok := rp.Worker.Routes.Get(m.Route)
	if !ok || r.Mode != routes.Async || m.Payload == nil {
		return nil, &problem.Problem{Type: "urn:kopir:problem:not-replayable", Title: "Message not replayable", Status: http.StatusConflict,
			Detail: fmt.Sprintf("message %s of route %s has no stored payload to resend (only async deliveries keep one)", id, m.Route), MessageID: id}
	}
	if err := rp.Worker.Ledger.Replay(ctx, m, operator); err != nil {
		return nil, err
	}
	if err := rp.Worker.Enqueue(ctx, ledger.View(m)); err != nil {
		return nil, err
	}
	return m, nil
}

// StartBulk replays every message f selects in the background.
func (rp *Replayer) StartBulk(f store.Filter, operator string) *jobs.Job {
	job := jobs.NewJob(routes.NewMessageID(), operator)
	rp.mu.Lock()
	ctx := rp.ctx
	rp.mu.Unlock()
	if ctx == nil {
		ctx = context.Background() // not run by an app: a tool or a test
	}
	if rp.Jobs != nil {
		rec := bulkRecord{Status: job.Snapshot(), Filter: f}
		if err := rp.save(ctx, &rec); err != nil {
			// The job is refused as it stands: not kept, it would run
			// nowhere and be visible nowhere.
			job.Step(fmt.Errorf("keeping the job: %w", err))
			job.Finish()
			return job
		}
		rp.poke()
		return job
	}
	rp.mu.Lock()
	if rp.byID == nil {
		rp.byID = map[string]*jobs.Job{}
	}
	rp.byID[job.ID] = job
	rp.mu.Unlock()
	rp.jobs.Add(1)
	go func() {
		defer rp.jobs.Done()
		rec := &bulkRecord{Filter: f}
		if rp.runBulk(ctx, rec, job, nil) {
			job.Finish()
		}
	}()
	return job
}

// Job finds a bulk replay by id, on whichever node it runs.
func (rp *Replayer) Job(id string) (*jobs.Job, bool) {
	if rp.Jobs != nil {
		rp.mu.Lock()
		ctx := rp.ctx
		rp.mu.Unlock()
		if ctx == nil {
			ctx = context.Background()
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		rec, err := rp.load(rctx, id)
		if err != nil {
			if !errors.Is(err, ErrNoJob) {
				rp.Worker.Log.Warn("reading a replay job", "job", id, "err", err)
			}
			return nil, false
		}
		return jobs.Restore(rec.Status), true
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	j, ok := rp.byID[id]
	return j, ok
}

// Run binds bulk jobs to ctx until it ends, then waits for them to stop.
func (rp *Replayer) Run(ctx context.Context) {
	rp.mu.Lock()
	rp.ctx = ctx
	rp.mu.Unlock()
	<-ctx.Done()
	rp.jobs.Wait()
}

// JobsPoll is how often RunJobs looks for jobs started on other nodes.
const JobsPoll = time.Second

// RunJobs runs the kept jobs that are not finished, resuming each where
// its last node left it, and then those started later, until ctx ends
// (the lease around it lost, or the app stopping). A job cut short by
// ctx stays unfinished for the next holder.
func (rp *Replayer) RunJobs(ctx context.Context) error {
	t := time.NewTicker(JobsPoll)
	defer t.Stop()
	for {
		ids, err := rp.Jobs.IDs(ctx)
		if err != nil && ctx.Err() == nil {
			rp.Worker.Log.Warn("listing replay jobs", "err", err)
		}
		for _, id := range ids {
			rec, err := rp.load(ctx, id)
			if err != nil || !rec.Status.Running {
				continue
			}
			job := jobs.Restore(rec.Status)
			if rec.Status.Replayed+rec.Status.Failed > 0 {
				rp.Worker.Log.Info("resuming a replay job", "job", id, "done", rec.Status.Replayed+rec.Status.Failed, "total", rec.Status.Total)
			}
			save := func() {
				rec.Status = job.Snapshot()
				if err := rp.save(ctx, &rec); err != nil && ctx.Err() == nil {
					rp.Worker.Log.Warn("saving a replay job's progress", "job", id, "err", err)
				}
			}
			if !rp.runBulk(ctx, &rec, job, save) {
				return nil
			}
			job.Finish()
			save()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-rp.wakeup():
		}
	}
}

func (rp *Replayer) wakeup() chan struct{} {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.wake == nil {
		rp.wake = make(chan struct{}, 1)
	}
	return rp.wake
}

// poke has this node's RunJobs, if it runs here, look at once.
func (rp *Replayer) poke() {
	select {
	case rp.wakeup() <- struct{}{}:
	default:
	}
}

func (rp *Replayer) save(ctx context.Context, rec *bulkRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return rp.Jobs.Put(context.WithoutCancel(ctx), rec.Status.ID, raw)
}

func (rp *Replayer) load(ctx context.Context, id string) (bulkRecord, error) {
	var rec bulkRecord
	raw, err := rp.Jobs.Get(ctx, id)
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, fmt.Errorf("replay job %s as kept: %w", id, err)
	}
	return rec, nil
}

// runBulk replays what rec.Filter selects from rec.Filter.AfterID on,
// counting into job and moving the cursor; save, when set, keeps the
// progress after each message. It reports whether the job got to its end
// (false: ctx ended first).
func (rp *Replayer) runBulk(ctx context.Context, rec *bulkRecord, job *jobs.Job, save func()) bool {
	f := rec.Filter
	if rec.Status.Total == 0 && f.AfterID == "" {
		// Count first so progress has a denominator from the start.
		if c, err := rp.Worker.Store.Count(ctx, store.Filter{Status: f.Status, Route: f.Route, Since: f.Since, Before: f.Before}); err == nil {
			total := c[f.Status]
			if f.Limit > 0 && f.Limit < total {
				total = f.Limit
			}
			job.AddTotal(total)
		}
	}
	step := func(err error) {
		job.Step(err)
		if save != nil {
			save()
		}
	}
	page := store.Filter{Status: f.Status, Route: f.Route, Since: f.Since, Before: f.Before, AfterID: f.AfterID, Limit: 500}
	for {
		remaining := 0
		if f.Limit > 0 {
			s := job.Snapshot()
			if remaining = f.Limit - s.Replayed - s.Failed; remaining <= 0 {
				return true
			}
			page.Limit = min(page.Limit, remaining)
		}
		list, err := rp.Worker.Store.List(ctx, page)
		if ctx.Err() != nil {
			return false
		}
		if err != nil {
			step(fmt.Errorf("listing messages: %w", err))
			return true
		}
		for _, m := range list {
			if ctx.Err() != nil {
				return false
			}
			_, err := rp.Replay(ctx, m.ID, job.Operator)
			if err != nil && ctx.Err() != nil {
				return false // cut short: the next holder tries this one again
			}
			rec.Filter.AfterID = m.ID
			step(err)
		}
		if len(list) < page.Limit {
			return true
		}
		page.AfterID = list[len(list)-1].ID
	}
}
