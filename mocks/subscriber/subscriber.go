// Package subscriber simulates an internal system receiving the bus's
// asynchronous deliveries: POST /subscriber[/…] takes any JSON and answers
// {"ok":true}. It keys each delivery by Idempotency-Key (falling back to
// X-Kopir-Message-Id) in the control API's mock "subscriber", so a test can
// see whether anything was delivered twice or not at all.
package subscriber

import (
	"encoding/json"
	"net/http"

	"github.com/minfin-kz/kopir/mocks"
)

// Name is the mock's name in the control API.
const Name = "subscriber"

func init() {
	mocks.Register(Name, func(s *mocks.Server) {
		h := handler{mock: s.Mock(Name)}
		s.HandleFunc("POST /subscriber", h.serve)
		s.HandleFunc("POST /subscriber/{rest...}", h.serve)
	})
}

var okBody = []byte(`{"ok":true}` + "\n")

type handler struct{ mock *mocks.Mock }

func (h handler) serve(w http.ResponseWriter, r *http.Request) {
	body, err := mocks.ReadBody(w, r, mocks.MaxBody)
	if err != nil {
		mocks.WriteJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"ok": false, "error": err.Error()})
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		key = r.Header.Get("X-Kopir-Message-Id")
	}
	m := h.mock
	o, f := m.Inject(r.Context())
	switch o {
	case mocks.Hung:
		m.Record(key, false)
		mocks.WriteHung(w, r)
		return
	case mocks.Fail:
		m.Record(key, false)
		mocks.WriteJSON(w, f.Status, map[string]any{"ok": false, "error": "injected failure of mock subscriber"})
		return
	}
	if !json.Valid(body) {
		mocks.WriteJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "body is not JSON"})
		return
	}
	m.Record(key, true)
	w.Header().Set("Content-Type", "application/json")
	w.Write(okBody)
}
