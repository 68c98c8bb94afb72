package delivery

import (
	"context"
	"fmt"
	"net/http"
	"sync"

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

	// ctx is the app's: bulk jobs stop with it, and Run waits for them.
	ctx  context.Context
	jobs sync.WaitGroup

	mu   sync.Mutex
	byID map[string]*jobs.Job
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
	if rp.byID == nil {
		rp.byID = map[string]*jobs.Job{}
	}
	rp.byID[job.ID] = job
	ctx := rp.ctx
	rp.mu.Unlock()
	if ctx == nil {
		ctx = context.Background() // not run by an app: a tool or a test
	}
	rp.jobs.Add(1)
	go func() {
		defer rp.jobs.Done()
		rp.runBulk(ctx, f, job)
	}()
	return job
}

// Job finds a bulk replay by id.
func (rp *Replayer) Job(id string) (*jobs.Job, bool) {
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

func (rp *Replayer) runBulk(ctx context.Context, f store.Filter, job *jobs.Job) {
	defer job.Finish()
	// Count first so progress has a denominator from the start.
	if c, err := rp.Worker.Store.Count(ctx, store.Filter{Status: f.Status, Route: f.Route, Since: f.Since, Before: f.Before}); err == nil {
		total := c[f.Status]
		if f.Limit > 0 && f.Limit < total {
			total = f.Limit
		}
		job.AddTotal(total)
	}
	remaining := f.Limit
	page := store.Filter{Status: f.Status, Route: f.Route, Since: f.Since, Before: f.Before, Limit: 500}
	for {
		if remaining > 0 && page.Limit > remaining {
			page.Limit = remaining
		}
		list, err := rp.Worker.Store.List(ctx, page)
		if err != nil {
			job.Step(fmt.Errorf("listing messages: %w", err))
			return
		}
		for _, m := range list {
			_, err := rp.Replay(ctx, m.ID, job.Operator)
			job.Step(err)
		}
		if f.Limit > 0 {
			remaining -= len(list)
			if remaining <= 0 {
				return
			}
		}
		if len(list) < page.Limit {
			return
		}
		page.AfterID = list[len(list)-1].ID
	}
}
