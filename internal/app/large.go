package app

import (
	"runtime/debug"

	"github.com/minfin-kz/kopir/internal/admission"
	"github.com/minfin-kz/kopir/internal/xsd"
)

// largeGate admits large inbound documents a few at a time. While one is
// processed the collector runs at the default pace — the bus's usual
// GOGC=400 would let a document's garbage grow to five times what is live —
// and once the last one is done, the Go and the C heap (libxml2's) are
// handed back, so the process returns to about its idle size.
func (a *App) largeGate() *admission.Gate {
	l := a.Config.Limits
	var pace int
	return &admission.Gate{
		Threshold: int64(l.LargeBody), Slots: l.LargeConcurrent, Wait: l.LargeWait.D(),
		Busy: func() { pace = debug.SetGCPercent(100) },
		Idle: func() {
			debug.SetGCPercent(pace)
			debug.FreeOSMemory()
			xsd.ReleaseMemory()
		},
	}
}
