package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/minfin-kz/kopir/internal/admin"
	"github.com/minfin-kz/kopir/internal/evidence"
)

// verifyEvidence prints what re-verifying a message's kept documents
// found, and fails unless every one is VALID or UNSIGNED.
func verifyEvidence(ctx context.Context, c *admin.Client, id string, asJSON bool, out io.Writer) error {
	v, err := c.VerifyEvidence(ctx, id)
	if err != nil {
		return err
	}
	if asJSON {
		if err := printJSON(out, v); err != nil {
			return err
		}
	} else {
		printVerification(out, v)
	}
	if !v.OK() {
		return fmt.Errorf("message %s: evidence %s", id, v.Result)
	}
	return nil
}

func printVerification(out io.Writer, v evidence.Verification) {
	fmt.Fprintf(out, "message %s: %s\n", v.MessageID, v.Result)
	for _, d := range v.Documents {
		fmt.Fprintf(out, "\n%s  %s %s (%s)  %d bytes  sha256 %s\n", d.ID, d.Direction, d.Source, d.Route, d.Size, d.SHA256)
		fmt.Fprintf(out, "  result:        %s\n", d.Result)
		if d.Detail != "" {
			fmt.Fprintf(out, "  detail:        %s\n", d.Detail)
		}
		if s := d.Signer; s != nil {
			fmt.Fprintf(out, "  signer:        %s\n", s.Subject)
			fmt.Fprintf(out, "  issuer:        %s\n", s.Issuer)
			fmt.Fprintf(out, "  serial number: %s\n", s.SerialNumber)
			fmt.Fprintf(out, "  valid:         %s to %s\n", s.NotBefore.Format(time.RFC3339), s.NotAfter.Format(time.RFC3339))
		}
		if !d.SigningTime.IsZero() {
			fmt.Fprintf(out, "  signing time:  %s (%s)\n", d.SigningTime.Format(time.RFC3339), d.SigningTimeSource)
		}
		if d.SignedDigest != "" {
			fmt.Fprintf(out, "  signed digest: %s (%s)\n", d.SignedDigest, d.SignatureMethod)
		}
		fmt.Fprintf(out, "  kept:          %s, key %s, until %s\n", d.ReceivedAt.Format(time.RFC3339), d.KeyID, d.ExpiresAt.Format(time.RFC3339))
	}
}
