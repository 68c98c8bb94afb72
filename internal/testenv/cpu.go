package testenv

import (
	"syscall"
	"testing"
)

// CPUPerOp starts counting the process's CPU time; the function it returns,
// called after b's loop, reports cpu-ns/op: the process's user+system time
// per operation (the collector's and other threads' included). Unlike
// ns/op it does not grow when a busy machine makes the benchmark wait,
// and it is what `openssl speed` divides by, so make bench can set the two
// side by side.
func CPUPerOp(b *testing.B) (report func()) {
	start := cpuTime(b)
	return func() { b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
