package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/minfin-kz/kopir/internal/evidence"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/routes"
)

// evidenceDocument answers with a kept document exactly as it was received
// or sent: ?n= picks the n-th (from 1, oldest first), ?evidence= one record.
func (s *Server) evidenceDocument(w http.ResponseWriter, r *http.Request, op string) {
	n := 1
	if v := r.URL.Query().Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 1000 {
			s.badRequest(w, r, op, paramErr("n", "%q is not a number from 1 to 1000", ledger.BoundName(v, 32)))
			return
		}
	}
	id := r.PathValue("id")
	if !routes.ValidMessageID(id) {
		s.badRequest(w, r, op, errInvalidID)
		return
	}
	doc, rec, err := s.vault().Document(r.Context(), id, r.URL.Query().Get("evidence"), n)
	if err != nil {
		s.evidenceFailed(w, err)
		return
	}
	s.noteAccess(r.Context(), id, op, fmt.Sprintf("document %s (sha256 %s) read", rec.ID, rec.SHA256))
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Kopir-Evidence-Id", rec.ID)
	w.Header().Set("X-Kopir-Evidence-Sha256", rec.SHA256)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", rec.ID+".xml"))
	w.Write(doc)
}

// evidenceVerify re-verifies every document kept for a message. What it
// finds about the documents (tampered, invalid, expired) is the answer,
// 409 when anything is wrong, never a server error.
func (s *Server) evidenceVerify(w http.ResponseWriter, r *http.Request, op string) {
	id := r.PathValue("id")
	if !routes.ValidMessageID(id) {
		s.badRequest(w, r, op, errInvalidID)
		return
	}
	v, err := s.vault().Verify(r.Context(), id)
	if err != nil {
		s.evidenceFailed(w, err)
		return
	}
	s.noteAccess(r.Context(), id, op, fmt.Sprintf("%d document(s) verified: %s", len(v.Documents), v.Result))
	status := http.StatusOK
	if !v.OK() {
		status = http.StatusConflict
	}
	writeJSON(w, status, v)
}

func (s *Server) vault() *evidence.Vault {
	if s.Evidence != nil {
		return s.Evidence
	}
	return &evidence.Vault{Store: s.Store}
}

// noteAccess puts an operator's look at evidence on the message's trail:
// the documents hold personal data in clear once opened.
func (s *Server) noteAccess(ctx context.Context, messageID, operator, detail string) {
	if s.EvidenceAccessed == nil {
		return
	}
	if err := s.EvidenceAccessed(ctx, messageID, operator, detail); err != nil {
		s.Log.Error("recording access to evidence", "messageId", messageID, "err", err)
	}
}

func (s *Server) evidenceFailed(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, evidence.ErrTampered):
		problem.Write(w, problem.New(http.StatusConflict, "Evidence tampered", err.Error()))
		return
	case errors.Is(err, evidence.ErrKeyUnavailable):
		problem.Write(w, problem.New(http.StatusConflict, "Evidence key unavailable", err.Error()))
		return
	}
	if errors.Is(err, evidence.ErrNone) {
		detail := err.Error()
		if s.Evidence == nil || s.Evidence.Keys == nil {
			detail += "; evidence keeping is off on this bus (no evidence.keys configured)"
		}
		problem.Write(w, problem.New(http.StatusNotFound, "No evidence", detail))
		return
	}
	s.Log.Error("reading evidence", "err", err)
	problem.Write(w, problem.New(http.StatusServiceUnavailable, "Evidence unavailable", "the evidence could not be read; see the bus's log"))
}

// Evidence fetches a kept document as it was received or sent (n from 1).
func (c *Client) Evidence(ctx context.Context, id string, n int) ([]byte, error) {
	return c.raw(ctx, "GET", "/admin/v1/messages/"+url.PathEscape(id)+"/evidence?n="+strconv.Itoa(max(n, 1)))
}

// VerifyEvidence re-verifies the documents kept for a message.
func (c *Client) VerifyEvidence(ctx context.Context, id string) (evidence.Verification, error) {
	var v evidence.Verification
	err := c.do(ctx, "POST", "/admin/v1/messages/"+url.PathEscape(id)+"/verify", nil, &v)
	return v, err
}

// raw is do for an answer that is a document rather than JSON.
func (c *Client) raw(ctx context.Context, method, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API at %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		var p problem.Problem
		if resp.Header.Get("Content-Type") == "application/problem+json" && json.Unmarshal(b, &p) == nil {
			return nil, &p
		}
		return nil, fmt.Errorf("%s %s answered %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	return b, nil
}
