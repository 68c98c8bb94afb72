package console

import (
	"net/http"

	"github.com/minfin-kz/kopir/internal/store"
)

// heldStatus is the status of a message held for clarification.
const heldStatus store.Status = "HELD"

// heldPages mounts the held queue's pages when the bus has one.
func (c *Console) heldPages(mux *http.ServeMux) {
	if c.held == nil {
		return
	}
}
