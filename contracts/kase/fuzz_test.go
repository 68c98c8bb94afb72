package kase_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/minfin-kz/kopir/contracts/kase"
)

// FuzzParse feeds the exchange's documents, as pushed to the bus, to
// Parse: it must never panic, and what it accepts must be a document the
// contract can write again and read back as the same message.
func FuzzParse(f *testing.F) {
	samples, _ := filepath.Glob(filepath.Join("testdata", "*.xml"))
	for _, p := range samples {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><DemandSummary xmlns="urn:kopir:kase:placement:1.0">&a;</DemandSummary>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		msg, name, err := kase.Parse(doc)
		if err != nil {
			return
		}
		again, err := kase.Marshal(msg)
		if err != nil {
			t.Fatalf("a %s Parse accepted does not write again: %v", name, err)
		}
		if _, name2, err := kase.Parse(again); err != nil || name2 != name {
			t.Fatalf("a %s written again reads as %q: %v", name, name2, err)
		}
	})
}
