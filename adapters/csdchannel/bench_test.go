package csdchannel_test

import (
	"fmt"
	"testing"

	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/csdchannel"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/internal/safexml"
)

// BenchmarkDepositoryDocuments measures each message the depository
// pushes: "validate" is the ceiling of the same run, the official XSD's
// check alone (isodoc.Parse, libxml2); "take" is what the channel does
// with it: validate, translate, match (the register request, the
// placement, the coupon's own computation) and hand over. docs/s and the
// ratio between the two are what make bench reports.
func BenchmarkDepositoryDocuments(b *testing.B) {
	docs := []struct {
		key, def string
		doc      func() any
	}{
		{"reda.008", isodoc.Reda008, func() any { return reda008Doc("0191f0a27b3c7d4e8f90a1b2c3d4e5f6") }},
		{"sese.025", isodoc.Sese025, func() any { return sese025Doc() }},
		{"seev.031", isodoc.Seev031, func() any { return seev031Doc("INTR", "62.50") }},
		{"seev.036", isodoc.Seev036, func() any { return seev036Doc() }},
	}
	// The channel's own bounds on a pushed document.
	limits := safexml.Limits{MaxBytes: 32 << 20, MaxDepth: 64, MaxTokens: 4_000_000}
	const distinct = 512
	for _, d := range docs {
		raws := make([][]byte, distinct)
		for i := range raws {
			raws[i] = message(b, d.def, fmt.Sprintf("CSD-%s-%d", d.key, i), d.doc())
		}
		b.Run(d.key+"/validate", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := isodoc.Parse(raws[i%distinct], csdchannel.Accepted, limits); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
		b.Run(d.key+"/take", func(b *testing.B) {
			ch := newChannel(b, channelOpts).(*csdchannel.Channel)
			var in *adaptertest.Intake
			for i := 0; b.Loop(); i++ {
				if i%distinct == 0 {
					// A fresh store, so that every document is new to it:
					// a repeat is cheaper and not what is measured.
					b.StopTimer()
					in = newIntake()
					in.Sent(csdchannel.DefaultRegisterRoute, "0191f0a27b3c7d4e8f90a1b2c3d4e5f6", []byte(`{}`))
					in.Sent(csdchannel.DefaultPlacementRoutes[0], "ANN-1", []byte(`{}`))
					b.StartTimer()
				}
				if _, err := ch.Process(b.Context(), in, raws[i%distinct], ""); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}
