// Command kopir is the Köpir integration bus: the server and the operators'
// CLI over the admin API. The mock agencies are the separate binary
// kopir-mocks, so that nothing of them is linked into production.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	_ "github.com/minfin-kz/kopir/adapters/all"
	"github.com/minfin-kz/kopir/internal/app"
	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/tracing"
)

const usage = `kopir — the Köpir integration service bus

usage:
  kopir serve   [-config FILE]              run the bus (default config deploy/local.yaml)
  kopir config check FILE                   validate a config file
  kopir messages list [-status S] [-route R] [-limit N] [-after ID]
  kopir messages show ID
  kopir messages verify ID                  re-verify the signed documents kept for a message
  kopir messages evidence ID [-n N]         print a kept document exactly as received or sent
  kopir replay ID...                        replay dead messages
  kopir replay -status DEAD [-route R] [-limit N]   bulk replay, with progress
  kopir held list|counts|show|payload|check|edit|approve|decline|resubmit|discard
                                            the held-for-clarification queue (kopir held)
  kopir audit verify                        walk the audit hash chain
  kopir stats [-route R]                    messages per status
  kopir token hash TOKEN                    the tokenSHA256 to put in a config
  kopir openapi [-config FILE] [-listener internal|admin] [-o FILE]
                                            the OpenAPI document of a listener

The CLI talks to the admin API at $KOPIR_ADMIN_URL (default from the config's
listen.admin) with $KOPIR_ADMIN_TOKEN or the file $KOPIR_ADMIN_TOKEN_FILE names
(a demo config's first admin token otherwise).
`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kopir:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		args = []string{"serve"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(rest)
	case "mocks":
		return errors.New("the mock agencies are the separate binary kopir-mocks (bin/kopir-mocks after make build)")
	case "config":
		if len(rest) != 2 || rest[0] != "check" {
			return errors.New("usage: kopir config check FILE")
		}
		c, err := config.Load(rest[1])
		if err != nil {
			return err
		}
		if err := app.Check(c); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: ok, %d routes\n", rest[1], len(c.Routes))
		ev, err := app.EvidenceStatus(c)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, ev)
		return nil
	case "token":
		if len(rest) != 2 || rest[0] != "hash" {
			return errors.New("usage: kopir token hash TOKEN")
		}
		fmt.Fprintln(out, config.HashToken(rest[1]))
		return nil
	case "openapi":
		return openAPI(rest, out)
	case "messages", "replay", "audit", "stats":
		return operate(cmd, rest, out)
	case "held":
		return heldCmd(rest, out)
	case "help", "-h", "--help":
		fmt.Fprint(out, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", envOr(config.EnvConfig, "deploy/local.yaml"), "config file")
	level := fs.String("log-level", envOr(config.EnvLogLevel, "info"), "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lv})))
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Run(ctx)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// tuneGC trades memory for CPU: a bus spends its time on short-lived
// request garbage, and at GOGC=400 it does ~25% more calls per core (see
// docs/performance.md) for ~15 MB more resident memory. The soft limit
// makes the collector work harder again before memory grows past 1 GiB.
// GOGC and GOMEMLIMIT in the environment still win.
func tuneGC() {
	if os.Getenv(config.EnvGOGC) == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv(config.EnvGOMEMLIMIT) == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}
