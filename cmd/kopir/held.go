package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"github.com/minfin-kz/kopir/internal/held"
	"github.com/minfin-kz/kopir/internal/problem"
)

const heldUsage = `usage:
  kopir held list [-route R] [-limit N] [-after ID]
  kopir held counts [-route R]
  kopir held show ID
  kopir held payload ID                 the payload to edit, unmasked (audited; operator)
  kopir held check ID FILE              check an edited payload (FILE or - for stdin); changes nothing
  kopir held edit -reason R ID FILE     propose the edit (four-eyes routes) or resubmit with it
  kopir held approve ID CHANGE          approve another operator's change and resubmit
  kopir held decline [-reason R] ID CHANGE
  kopir held resubmit [-reason R] ID    resubmit as it is, once its checks pass
  kopir held discard -reason R ID`

// heldCmd runs kopir held: the held-for-clarification queue through the
// admin API.
func heldCmd(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(heldUsage)
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("held "+sub, flag.ContinueOnError)
	cfgPath := fs.String("config", envOr("KOPIR_CONFIG", "deploy/local.yaml"), "config file (to find the admin API)")
	route := fs.String("route", "", "route name")
	limit := fs.Int("limit", 0, "at most this many")
	after := fs.String("after", "", "list held messages older than this id (next page)")
	reason := fs.String("reason", "", "the operator's reason, kept on the audit trail")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := adminClient(*cfgPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	need := func(n int, usage string) error {
		if fs.NArg() != n {
			return fmt.Errorf("usage: kopir held %s", usage)
		}
		return nil
	}
	var outcome held.Outcome
	switch sub {
	case "list":
		q := url.Values{}
		for k, v := range map[string]string{"route": *route, "after": *after} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if *limit > 0 {
			q.Set("limit", fmt.Sprint(*limit))
		}
		page, err := c.HeldList(ctx, q)
		if err != nil {
			return explain(err)
		}
		if *asJSON {
			return printJSON(out, page)
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROUTE\tHELD\tREASONS\tFIRST REASON")
		for _, m := range page.Items {
			first := ""
			if len(m.Reasons) > 0 {
				first = m.Reasons[0].Field + ": " + m.Reasons[0].Reason
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", m.ID, m.Route, m.HeldAt.Local().Format(time.DateTime), len(m.Reasons), clip(first, 80))
		}
		tw.Flush()
		if page.Next != "" {
			fmt.Fprintf(out, "more: kopir held list -after %s\n", page.Next)
		}
		return nil
	case "counts":
		counts, err := c.HeldCounts(ctx, *route)
		if err != nil {
			return explain(err)
		}
		return printJSON(out, counts)
	case "show":
		if err := need(1, "show ID"); err != nil {
			return err
		}
		m, err := c.HeldShow(ctx, fs.Arg(0))
		if err != nil {
			return explain(err)
		}
		if *asJSON {
			return printJSON(out, m)
		}
		printHeld(out, m)
		return nil
	case "payload":
		if err := need(1, "payload ID"); err != nil {
			return err
		}
		p, err := c.HeldPayload(ctx, fs.Arg(0))
		if err != nil {
			return explain(err)
		}
		fmt.Fprintln(out, indent(p)[2:])
		return nil
	case "check":
		if err := need(2, "check ID FILE"); err != nil {
			return err
		}
		p, err := readPayload(fs.Arg(1))
		if err != nil {
			return err
		}
		ck, err := c.HeldCheck(ctx, fs.Arg(0), p)
		if err != nil {
			return explain(err)
		}
		if *asJSON {
			return printJSON(out, ck)
		}
		for _, r := range ck.Invalid {
			fmt.Fprintf(out, "invalid  %s: %s\n", r.Field, r.Reason)
		}
		for _, r := range ck.Held {
			fmt.Fprintf(out, "held     %s: %s\n", r.Field, r.Reason)
		}
		if !ck.OK {
			return fmt.Errorf("%d invalid, %d still held", len(ck.Invalid), len(ck.Held))
		}
		fmt.Fprintf(out, "ok: the payload passes its checks (sha256 %s)\n", ck.Digest)
		return nil
	case "edit":
		if err := need(2, "edit -reason R ID FILE"); err != nil {
			return err
		}
		p, err := readPayload(fs.Arg(1))
		if err != nil {
			return err
		}
		outcome, err = c.HeldPropose(ctx, fs.Arg(0), p, *reason)
		if err != nil {
			return explain(err)
		}
	case "approve":
		if err := need(2, "approve ID CHANGE"); err != nil {
			return err
		}
		if outcome, err = c.HeldApprove(ctx, fs.Arg(0), fs.Arg(1)); err != nil {
			return explain(err)
		}
	case "decline":
		if err := need(2, "decline [-reason R] ID CHANGE"); err != nil {
			return err
		}
		if outcome, err = c.HeldDecline(ctx, fs.Arg(0), fs.Arg(1), *reason); err != nil {
			return explain(err)
		}
	case "resubmit":
		if err := need(1, "resubmit [-reason R] ID"); err != nil {
			return err
		}
		if outcome, err = c.HeldResubmit(ctx, fs.Arg(0), *reason); err != nil {
			return explain(err)
		}
	case "discard":
		if err := need(1, "discard -reason R ID"); err != nil {
			return err
		}
		if outcome, err = c.HeldDiscard(ctx, fs.Arg(0), *reason); err != nil {
			return explain(err)
		}
	default:
		return fmt.Errorf("unknown command held %s\n\n%s", sub, heldUsage)
	}
	if *asJSON {
		return printJSON(out, outcome)
	}
	fmt.Fprintf(out, "%s: %s", outcome.MessageID, outcome.Status)
	if ch := outcome.Change; ch != nil {
		fmt.Fprintf(out, " (change %s %s)", ch.ID, ch.State)
	}
	fmt.Fprintln(out)
	return nil
}

// explain spells out every field a refusal names.
func explain(err error) error {
	var p *problem.Problem
	if errors.As(err, &p) && len(p.Problems) > 1 {
		msg := p.Title + ":"
		for _, fp := range p.Problems {
			msg += "\n  " + fp.Field + ": " + fp.Detail
		}
		return errors.New(msg)
	}
	return err
}

func readPayload(name string) (json.RawMessage, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the payload: %w", err)
	}
	return b, nil
}

func printHeld(out io.Writer, m held.Message) {
	fmt.Fprintf(out, "message   %s\nroute     %s\nstatus    %s\nheld at   %s\nfour eyes %v\n", m.ID, m.Route, m.Status,
		m.HeldAt.Format(time.RFC3339), m.FourEyes)
	fmt.Fprintf(out, "\nreasons (%d):\n", len(m.Reasons))
	for _, r := range m.Reasons {
		fmt.Fprintf(out, "  %s: %s\n", r.Field, r.Reason)
	}
	if len(m.Changes) > 0 {
		fmt.Fprintf(out, "\nchanges:\n")
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tSTATE\tPROPOSER\tDECIDED BY\tDIGEST BEFORE -> AFTER\tREASON")
		for _, c := range m.Changes {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s -> %s\t%s\n", c.ID, c.State, c.Proposer, c.DecidedBy, c.DigestBefore[:12], c.DigestAfter[:12], c.Reason)
		}
		tw.Flush()
	}
	fmt.Fprintf(out, "\nrequest body (masked as stored):\n%s\n", indent(m.RequestBody))
}
