package adapters

import (
	"encoding/json"
	"net/http"
)

// WriteProblem answers in RFC 9457's shape: type, title, status, detail,
// and ext's members (field, code, messageId, violations…). The core's
// writer (internal/problem) chooses the answers of the bus's own APIs and
// is out of a component's reach; a channel's handler that answers an
// agency or an internal caller in problem+json uses this one, so that
// every component answers in the same shape.
func WriteProblem(w http.ResponseWriter, status int, title, detail string, ext map[string]any) {
	body := make(map[string]any, len(ext)+4)
	for k, v := range ext {
		body[k] = v
	}
	body["type"], body["title"], body["status"] = "about:blank", title, status
	if detail != "" {
		body["detail"] = detail
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
