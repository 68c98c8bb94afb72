// Package problem writes RFC 9457 application/problem+json answers. Every
// error the internal API gives goes through here so callers can rely on one
// shape: type, title, status, detail, and the offending field when known.
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// Problem is the body of an error answer.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	Field     string `json:"field,omitempty"`
	Code      string `json:"code,omitempty"` // the agency's own error code
	MessageID string `json:"messageId,omitempty"`
	// Differs names what a reused Idempotency-Key's request changed
	// ("route", "body").
	Differs []string `json:"differs,omitempty"`
	// Problems lists every field at fault when there are several (an
	// edited held message); Field is then the first of them.
	Problems []FieldProblem `json:"problems,omitempty"`
	// RetryAfter is sent as the Retry-After header, not in the body.
	RetryAfter time.Duration `json:"-"`
}

// FieldProblem is one field at fault and why.
type FieldProblem struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Error lets a *Problem travel as an error.
func (p *Problem) Error() string {
	if p.Field != "" {
		return p.Field + ": " + p.Detail
	}
	if p.Detail != "" {
		return p.Title + ": " + p.Detail
	}
	return p.Title
}

// New builds a problem whose type is a stable URN per status and title.
func New(status int, title, detail string) *Problem {
	return &Problem{Type: "urn:kopir:problem:" + slug(title), Title: title, Status: status, Detail: detail}
}

// Write sends p.
func Write(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.MessageID != "" {
		h.Set("X-Kopir-Message-Id", p.MessageID)
	}
	if p.RetryAfter > 0 {
		secs := int(p.RetryAfter.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	w.WriteHeader(p.Status)
	out := *p
	out.Title, out.Detail, out.Field, out.Code = capText(p.Title), capText(p.Detail), capText(p.Field), capText(p.Code)
	_ = json.NewEncoder(w).Encode(&out)
}

// MaxText caps each text of an answer: details carry words from outside
// (an agency's fault string, a field name the caller sent) that must not
// make the answer as large as the attack.
const MaxText = 2048

func capText(s string) string {
	if len(s) <= MaxText {
		return s
	}
	cut := s[:MaxText]
	for len(cut) > 0 && !utf8.RuneStart(s[len(cut)]) {
		cut = cut[:len(cut)-1]
	}
	return cut + "…"
}

func slug(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case len(b) > 0 && b[len(b)-1] != '-':
			b = append(b, '-')
		}
	}
	for len(b) > 0 && b[len(b)-1] == '-' {
		b = b[:len(b)-1]
	}
	return string(b)
}
