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
	"strings"
	"text/tabwriter"
	"time"

	"github.com/minfin-kz/kopir/internal/admin"
	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/jobs"
)

// adminClient finds the admin API: env first (the token possibly from the
// file KOPIR_ADMIN_TOKEN_FILE names), then the config file's listener and
// (demo configs only) its first plain-text admin token.
func adminClient(configPath string) (*admin.Client, error) {
	c := &admin.Client{BaseURL: os.Getenv(config.EnvAdminURL)}
	if err := config.FromEnv(config.EnvAdminToken, &c.Token); err != nil {
		return nil, err
	}
	if c.BaseURL == "" || c.Token == "" {
		cfg, err := config.Load(configPath)
		if err != nil && c.BaseURL == "" {
			return nil, fmt.Errorf("set KOPIR_ADMIN_URL and KOPIR_ADMIN_TOKEN, or pass -config: %w", err)
		}
		if cfg != nil {
			if c.BaseURL == "" {
				c.BaseURL = "http://" + cfg.Listen.Admin
			}
			if c.Token == "" && len(cfg.Admins) > 0 {
				c.Token = cfg.Admins[0].Token
			}
		}
	}
	if c.Token == "" {
		return nil, errors.New("no admin token: set KOPIR_ADMIN_TOKEN or KOPIR_ADMIN_TOKEN_FILE")
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c, nil
}

func operate(cmd string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	cfgPath := fs.String("config", envOr(config.EnvConfig, "deploy/local.yaml"), "config file (to find the admin API)")
	status := fs.String("status", "", "message status")
	route := fs.String("route", "", "route name")
	subject := fs.String("subject", "", "messages list: only those about this business object (e.g. an ISIN)")
	limit := fs.Int("limit", 0, "at most this many")
	after := fs.String("after", "", "list messages older than this id (next page)")
	asJSON := fs.Bool("json", false, "print JSON")
	nth := fs.Int("n", 1, "messages evidence: the n-th kept document, oldest first")
	sub := ""
	if (cmd == "messages" || cmd == "audit") && len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := adminClient(*cfgPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	switch {
	case cmd == "messages" && sub == "list":
		q := url.Values{}
		for k, v := range map[string]string{"status": *status, "route": *route, "subject": *subject, "after": *after} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if *limit > 0 {
			q.Set("limit", fmt.Sprint(*limit))
		}
		page, err := c.List(ctx, q)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(out, page)
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROUTE\tDIR\tCALLER\tSTATUS\tHTTP\tATTEMPTS\tCREATED\tERROR")
		for _, m := range page.Items {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", m.ID, m.Route, m.Direction, m.Caller, m.Status, m.HTTPStatus, m.Attempts,
				m.CreatedAt.Local().Format(time.DateTime), clip(m.Error, 60))
		}
		tw.Flush()
		if page.Next != "" {
			fmt.Fprintf(out, "more: kopir messages list -after %s\n", page.Next)
		}
		return nil
	case cmd == "messages" && sub == "show":
		if fs.NArg() != 1 {
			return errors.New("usage: kopir messages show ID")
		}
		d, err := c.Show(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(out, d)
		}
		printDetail(out, d)
		return nil
	case cmd == "messages" && (sub == "verify" || sub == "evidence"):
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: kopir messages %s ID", sub)
		}
		if sub == "evidence" {
			doc, err := c.Evidence(ctx, fs.Arg(0), *nth)
			if err != nil {
				return err
			}
			_, err = out.Write(doc)
			return err
		}
		return verifyEvidence(ctx, c, fs.Arg(0), *asJSON, out)
	case cmd == "replay" && fs.NArg() > 0:
		failed := 0
		for _, id := range fs.Args() {
			m, err := c.Replay(ctx, id)
			if err != nil {
				failed++
				fmt.Fprintf(out, "%s: %v\n", id, err)
				continue
			}
			fmt.Fprintf(out, "%s: %s\n", id, m.Status)
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d not replayed", failed, fs.NArg())
		}
		return nil
	case cmd == "replay":
		if *status == "" {
			return errors.New("usage: kopir replay ID... | kopir replay -status DEAD [-route R] [-limit N]")
		}
		return bulkReplay(ctx, c, admin.BulkRequest{Status: *status, Route: *route, Limit: *limit}, out)
	case cmd == "audit" && sub == "verify":
		v, err := c.Verify(ctx)
		if err != nil {
			return err
		}
		if v.OK {
			fmt.Fprintf(out, "audit chain intact: %d records, head %s\n", v.Records, v.HeadHash)
			return nil
		}
		return fmt.Errorf("audit chain broken: record %d %s (%d records checked)", v.FirstBad, v.Problem, v.Records)
	case cmd == "stats":
		q := url.Values{}
		if *route != "" {
			q.Set("route", *route)
		}
		counts, err := c.Stats(ctx, q)
		if err != nil {
			return err
		}
		return printJSON(out, counts)
	}
	return fmt.Errorf("unknown command %s %s\n\n%s", cmd, sub, usage)
}

func bulkReplay(ctx context.Context, c *admin.Client, req admin.BulkRequest, out io.Writer) error {
	j, err := c.StartBulk(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "replay job %s started\n", j.ID)
	for {
		progress(out, j)
		if !j.Running {
			break
		}
		time.Sleep(300 * time.Millisecond)
		if j, err = c.Job(ctx, j.ID); err != nil {
			return err
		}
	}
	fmt.Fprintln(out)
	for _, e := range j.Errors {
		fmt.Fprintln(out, "  ", e)
	}
	if j.Failed > 0 {
		return fmt.Errorf("%d of %d messages not replayed", j.Failed, j.Total)
	}
	return nil
}

func progress(out io.Writer, j jobs.Status) {
	done := j.Replayed + j.Failed
	pct := 100.0
	if j.Total > 0 {
		pct = 100 * float64(done) / float64(j.Total)
	}
	const width = 30
	filled := int(pct / 100 * width)
	fmt.Fprintf(out, "\r[%s%s] %d/%d replayed, %d failed (%.0f%%)", strings.Repeat("#", filled), strings.Repeat(".", width-filled), j.Replayed, j.Total, j.Failed, pct)
}

func printDetail(out io.Writer, d admin.Detail) {
	m := d.Message
	fmt.Fprintf(out, "message   %s\nroute     %s (%s)\ncaller    %s\nstatus    %s (HTTP %d)\ncorrelation %s\n", m.ID, m.Route, m.Direction, m.Caller, m.Status, m.HTTPStatus, m.CorrelationID)
	if m.IdempotencyKey != "" {
		fmt.Fprintf(out, "idempotency-key %s\n", m.IdempotencyKey)
	}
	if m.Subject != "" {
		fmt.Fprintf(out, "subject   %s\n", m.Subject)
	}
	if m.TraceID != "" {
		fmt.Fprintf(out, "trace     %s\n", m.TraceID)
	}
	fmt.Fprintf(out, "created   %s\nupdated   %s\n", m.CreatedAt.Format(time.RFC3339Nano), m.UpdatedAt.Format(time.RFC3339Nano))
	if m.Error != "" {
		fmt.Fprintf(out, "error     %s\n", m.Error)
	}
	fmt.Fprintf(out, "\nrequest body:\n%s\n\nresponse body:\n%s\n", indent(m.RequestBody), indent(m.ResponseBody))
	fmt.Fprintf(out, "\nattempts (%d):\n", len(d.Attempts))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  N\tENDPOINT\tHTTP\tLATENCY\tSTARTED\tERROR")
	for _, a := range d.Attempts {
		fmt.Fprintf(tw, "  %d\t%s\t%d\t%.1fms\t%s\t%s\n", a.N, a.Endpoint, a.HTTPStatus, a.LatencyMS, a.StartedAt.Format(time.RFC3339Nano), a.Error)
	}
	tw.Flush()
	for _, a := range d.Attempts {
		if len(a.RequestBody) > 0 || len(a.ResponseBody) > 0 {
			fmt.Fprintf(out, "\nattempt %d wire request:\n%s\nattempt %d wire response:\n%s\n", a.N, a.RequestBody, a.N, a.ResponseBody)
		}
	}
	fmt.Fprintf(out, "\naudit:\n")
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, r := range d.Audit {
		fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s\t%s\n", r.Seq, r.At.Format(time.RFC3339Nano), r.Actor, r.Action, r.Detail)
	}
	tw.Flush()
}

func indent(raw []byte) string {
	if len(raw) == 0 {
		return "  (none)"
	}
	var v any
	if json.Unmarshal(raw, &v) == nil {
		b, _ := json.MarshalIndent(v, "  ", "  ")
		return "  " + string(b)
	}
	return "  " + string(raw)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
