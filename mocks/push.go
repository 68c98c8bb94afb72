package mocks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Pusher delivers an agency's messages to the participant's callback one
// at a time, in the order they were queued: an auction's result must not
// overtake its demand summary, nor a settlement confirmation its pending
// advice. A push is retried on errors and 5xx with a doubling wait; a 4xx
// is final (the participant refused it).
type Pusher struct {
	client   *http.Client
	attempts int
	ctype    string
	ctx      context.Context
	cancel   context.CancelFunc
	wake     chan struct{}
	done     chan struct{}

	mu     sync.Mutex
	url    string
	queue  []Push
	pushed []Push
	idle   *sync.Cond
	busy   bool
}

// Push is one message pushed, queued or given up on.
type Push struct {
	Type     string `json:"type"`
	ID       string `json:"id"`
	Attempts int    `json:"attempts"`
	Status   int    `json:"httpStatus,omitempty"`
	Error    string `json:"error,omitempty"`
	body     []byte
}

// NewPusher starts a pusher to url; client nil means a 10-second client,
// attempts ≤ 0 means 5.
func NewPusher(url, contentType string, client *http.Client, attempts int) *Pusher {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if attempts <= 0 {
		attempts = 5
	}
	p := &Pusher{client: client, attempts: attempts, ctype: contentType, url: url, wake: make(chan struct{}, 1), done: make(chan struct{})}
	p.idle = sync.NewCond(&p.mu)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	go p.run()
	return p
}

// Send queues body, a message of the given type and id, for delivery.
func (p *Pusher) Send(typ, id string, body []byte) {
	p.mu.Lock()
	p.queue = append(p.queue, Push{Type: typ, ID: id, body: body})
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Fail records a message that could not be built, so that it shows among
// the pushes as given up on rather than vanishing.
func (p *Pusher) Fail(typ, id string, err error) {
	p.mu.Lock()
	p.pushed = append(p.pushed, Push{Type: typ, ID: id, Error: "not built: " + err.Error()})
	p.mu.Unlock()
}

// SetURL changes where later pushes go.
func (p *Pusher) SetURL(url string) {
	p.mu.Lock()
	p.url = url
	p.mu.Unlock()
}

// PutCallback serves PUT /_control/callback: {"url": "..."} is where
// later pushes go.
func (p *Pusher) PutCallback(w http.ResponseWriter, r *http.Request) {
	var body struct {
		URL string `json:"url"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.URL == "" {
		WriteJSON(w, http.StatusBadRequest, map[string]string{"error": `callback: want {"url": "..."}`})
		return
	}
	p.SetURL(body.URL)
	WriteJSON(w, http.StatusOK, body)
}

// URL is where pushes go.
func (p *Pusher) URL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.url
}

// Pushed lists the messages delivered or given up on, oldest first, and
// how many are still queued.
func (p *Pusher) Pushed() ([]Push, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.queue)
	if p.busy {
		n++
	}
	return append([]Push{}, p.pushed...), n
}

// Drain waits until nothing is queued or being delivered: for tests and
// for Close.
func (p *Pusher) Drain() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) > 0 || p.busy {
		p.idle.Wait()
	}
}

// Close abandons what is still queued and waits for the push in flight.
func (p *Pusher) Close() {
	p.cancel()
	<-p.done
}

func (p *Pusher) run() {
	defer close(p.done)
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.idle.Broadcast()
			p.mu.Unlock()
			select {
			case <-p.ctx.Done():
				p.abandon()
				return
			case <-p.wake:
				continue
			}
		}
		next := p.queue[0]
		p.queue = p.queue[1:]
		p.busy = true
		url := p.url
		p.mu.Unlock()
		p.deliver(&next, url)
		p.mu.Lock()
		p.busy = false
		next.body = nil
		p.pushed = append(p.pushed, next)
		p.mu.Unlock()
		if p.ctx.Err() != nil {
			p.abandon()
			return
		}
	}
}

func (p *Pusher) abandon() {
	p.mu.Lock()
	p.queue = nil
	p.busy = false
	p.idle.Broadcast()
	p.mu.Unlock()
}

func (p *Pusher) deliver(m *Push, url string) {
	wait := 50 * time.Millisecond
	for m.Attempts < p.attempts {
		m.Attempts++
		req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, url, bytes.NewReader(m.body))
		if err != nil {
			m.Error = err.Error()
			return
		}
		req.Header.Set("Content-Type", p.ctype)
		resp, err := p.client.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			m.Status, m.Error = resp.StatusCode, ""
			if resp.StatusCode < 500 {
				if resp.StatusCode >= 300 {
					m.Error = fmt.Sprintf("refused with HTTP %d", resp.StatusCode)
				}
				return
			}
			m.Error = fmt.Sprintf("HTTP %d", resp.StatusCode)
		} else {
			m.Error = err.Error()
		}
		if m.Attempts == p.attempts {
			return
		}
		select {
		case <-p.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}
