package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/minfin-kz/kopir/internal/held"
	"github.com/minfin-kz/kopir/internal/jobs"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
)

// Client talks to the admin API; the kopir CLI is built on it.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8082
	Token   string
	HTTP    *http.Client
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API at %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") == "application/problem+json" {
		var p problem.Problem
		if json.Unmarshal(raw, &p) == nil {
			if p.Status == http.StatusForbidden {
				return &ForbiddenError{Problem: &p}
			}
			return &p
		}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s answered %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
		}
	}
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusConflict {
		return fmt.Errorf("%s %s answered %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	return nil
}

// ForbiddenError is the admin API's refusal of a call the token's role
// does not allow; its text says which role would.
type ForbiddenError struct{ Problem *problem.Problem }

func (e *ForbiddenError) Error() string {
	return "forbidden: " + e.Problem.Detail + "; use an admin token with that role (KOPIR_ADMIN_TOKEN)"
}

func (e *ForbiddenError) Unwrap() error { return e.Problem }

// List asks for one page of messages.
func (c *Client) List(ctx context.Context, q url.Values) (Page, error) {
	var p Page
	err := c.do(ctx, "GET", "/admin/v1/messages?"+q.Encode(), nil, &p)
	return p, err
}

// Show gets one message with its attempts and audit trail.
func (c *Client) Show(ctx context.Context, id string) (Detail, error) {
	var d Detail
	err := c.do(ctx, "GET", "/admin/v1/messages/"+url.PathEscape(id)+"", nil, &d)
	return d, err
}

// Replay re-queues one message.
func (c *Client) Replay(ctx context.Context, id string) (store.Message, error) {
	var m store.Message
	err := c.do(ctx, "POST", "/admin/v1/messages/"+url.PathEscape(id)+"/replay", nil, &m)
	return m, err
}

// StartBulk starts a bulk replay.
func (c *Client) StartBulk(ctx context.Context, req BulkRequest) (jobs.Status, error) {
	var j jobs.Status
	err := c.do(ctx, "POST", "/admin/v1/replay", req, &j)
	return j, err
}

// Job polls a bulk replay.
func (c *Client) Job(ctx context.Context, id string) (jobs.Status, error) {
	var j jobs.Status
	err := c.do(ctx, "GET", "/admin/v1/replay/"+url.PathEscape(id), nil, &j)
	return j, err
}

// Verify walks the audit chain.
func (c *Client) Verify(ctx context.Context) (store.VerifyResult, error) {
	var v store.VerifyResult
	err := c.do(ctx, "GET", "/admin/v1/audit/verify", nil, &v)
	return v, err
}

// Stats counts messages per status.
func (c *Client) Stats(ctx context.Context, q url.Values) (store.Counts, error) {
	var out struct {
		Counts store.Counts `json:"counts"`
	}
	err := c.do(ctx, "GET", "/admin/v1/stats?"+q.Encode(), nil, &out)
	return out.Counts, err
}

// HeldList lists held messages (q: route, since, before, after, limit).
func (c *Client) HeldList(ctx context.Context, q url.Values) (HeldPage, error) {
	var p HeldPage
	err := c.do(ctx, "GET", "/admin/v1/held?"+q.Encode(), nil, &p)
	return p, err
}

// HeldCounts counts held messages per route.
func (c *Client) HeldCounts(ctx context.Context, route string) (map[string]any, error) {
	var out map[string]any
	err := c.do(ctx, "GET", "/admin/v1/held/counts?"+url.Values{"route": {route}}.Encode(), nil, &out)
	return out, err
}

// HeldShow returns a held message with its reasons and changes.
func (c *Client) HeldShow(ctx context.Context, id string) (held.Message, error) {
	var m held.Message
	err := c.do(ctx, "GET", "/admin/v1/held/"+url.PathEscape(id), nil, &m)
	return m, err
}

// HeldPayload returns a held message's payload, unmasked (audited).
func (c *Client) HeldPayload(ctx context.Context, id string) (json.RawMessage, error) {
	var p json.RawMessage
	err := c.do(ctx, "GET", "/admin/v1/held/"+url.PathEscape(id)+"/payload", nil, &p)
	return p, err
}

// HeldCheck checks payload as the held message's new body.
func (c *Client) HeldCheck(ctx context.Context, id string, payload json.RawMessage) (held.Check, error) {
	var ck held.Check
	err := c.do(ctx, "POST", "/admin/v1/held/"+url.PathEscape(id)+"/check", payload, &ck)
	return ck, err
}

// HeldPropose edits a held message (a pending change on a four-eyes route).
func (c *Client) HeldPropose(ctx context.Context, id string, payload json.RawMessage, reason string) (held.Outcome, error) {
	return c.heldAction(ctx, "/admin/v1/held/"+url.PathEscape(id)+"/changes", ChangeRequest{Payload: payload, Reason: reason})
}

// HeldApprove approves a pending change.
func (c *Client) HeldApprove(ctx context.Context, id, change string) (held.Outcome, error) {
	return c.heldAction(ctx, "/admin/v1/held/"+url.PathEscape(id)+"/changes/"+url.PathEscape(change)+"/approve", nil)
}

// HeldDecline declines a pending change.
func (c *Client) HeldDecline(ctx context.Context, id, change, reason string) (held.Outcome, error) {
	return c.heldAction(ctx, "/admin/v1/held/"+url.PathEscape(id)+"/changes/"+url.PathEscape(change)+"/decline", ReasonRequest{Reason: reason})
}

// HeldResubmit resubmits a held message as it is.
func (c *Client) HeldResubmit(ctx context.Context, id, reason string) (held.Outcome, error) {
	return c.heldAction(ctx, "/admin/v1/held/"+url.PathEscape(id)+"/resubmit", ReasonRequest{Reason: reason})
}

// HeldDiscard discards a held message.
func (c *Client) HeldDiscard(ctx context.Context, id, reason string) (held.Outcome, error) {
	return c.heldAction(ctx, "/admin/v1/held/"+url.PathEscape(id)+"/discard", ReasonRequest{Reason: reason})
}

func (c *Client) heldAction(ctx context.Context, path string, body any) (held.Outcome, error) {
	var o held.Outcome
	err := c.do(ctx, "POST", path, body, &o)
	return o, err
}
