package app

import (
	"runtime/debug"

	"github.com/minfin-kz/kopir/internal/admission"
)

// largeGate admits large inbound documents a few at a time. While one is
// processed the collector runs at the default pace — the bus's usual
// GOGC=400 would let a document's garbage grow to five times what is live —
// and once the last one is done, the Go heap is handed back, so the
// process returns to about its idle size (internal/xsd hands libxml2's C
// heap back after each large document itself).
func (a *App) largeGate() *admission.Gate {
	l := a.Config.Limits
	var pace int
	return &admission.Gate{
		Threshold: int64(l.LargeBody), Slots: l.LargeConcurrent, Wait: l.LargeWait.D(),
		Busy: func() { pace = debug.SetGCPercent(100) },
		Idle: func() {
			debug.SetGCPercent(pace)
			debug.FreeOSMemory()
		},
	}
}
