// Command kopir-mocks serves the simulated agencies Köpir talks to, for
// local runs, benchmarks and end-to-end tests. It is a binary of its own so
// that the production bus links neither the simulators nor their demo
// private keys.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/minfin-kz/kopir/mocks"
	_ "github.com/minfin-kz/kopir/mocks/all"
	"github.com/minfin-kz/kopir/mocks/csd"
	"github.com/minfin-kz/kopir/mocks/kase"
	"github.com/minfin-kz/kopir/mocks/payments"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kopir-mocks:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kopir-mocks", flag.ContinueOnError)
	listen := fs.String("listen", envOr("KOPIR_MOCKS_LISTEN", mocks.DefaultAddr), "address")
	callback := fs.String("payments-callback", envOr("KOPIR_MOCKS_PAYMENTS_CALLBACK", payments.DefaultCallback), "where the payment-system mock pushes pacs.002, pacs.004, camt.053/054")
	kaseCallback := fs.String("kase-callback", envOr("KOPIR_MOCKS_KASE_CALLBACK", kase.DefaultCallback), "where the exchange mock pushes DemandSummary and AuctionResult")
	csdCallback := fs.String("csd-callback", envOr("KOPIR_MOCKS_CSD_CALLBACK", csd.DefaultCallback), "where the depository mock pushes reda.008, sese.024/025, seev.031/036")
	if err := fs.Parse(args); err != nil {
		return err
	}
	agencies := mocks.New(mocks.Options{}, payments.Options{CallbackURL: *callback},
		kase.Options{CallbackURL: *kaseCallback}, csd.Options{CallbackURL: *csdCallback})
	defer agencies.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: *listen, Handler: agencies, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "kopir-mocks listening on %s\n", *listen)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
