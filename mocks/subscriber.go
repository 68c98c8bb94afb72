package mocks

import (
	"encoding/json"
	"net/http"
)

var okBody = []byte(`{"ok":true}` + "\n")

// subscriber is an internal system receiving asynchronous deliveries. It
// keys each delivery by Idempotency-Key (falling back to X-Kopir-Message-Id)
// so a test can see whether anything was delivered twice or not at all.
func (s *server) subscriber(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, maxEnvelope)
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"ok": false, "error": err.Error()})
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		key = r.Header.Get("X-Kopir-Message-Id")
	}
	m := s.mocks[Subscriber]
	o, f := m.inject(r.Context(), s.opts.MaxHang)
	switch o {
	case hung:
		m.rec.Load().add(key, false, s.opts.Now())
		writeHung(w, r)
		return
	case fail:
		m.rec.Load().add(key, false, s.opts.Now())
		writeJSON(w, f.Status, map[string]any{"ok": false, "error": "injected failure of mock subscriber"})
		return
	}
	if !json.Valid(body) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "body is not JSON"})
		return
	}
	m.rec.Load().add(key, true, s.opts.Now())
	w.Header().Set("Content-Type", "application/json")
	w.Write(okBody)
}
