package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// serveProxy passes every call on to upstream with the standard library's
// reverse proxy, keeping as many idle upstream connections as nginx's
// ceiling does (keepalive 64).
func serveProxy(listen, upstream string) error {
	u, err := url.Parse(upstream)
	if err != nil {
		return fmt.Errorf("upstream %q: %w", upstream, err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.Transport = &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	// wrk closes its connections mid-call when its run ends; the proxy's
	// default is a log line for each.
	p.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	return serve(listen, p)
}

// serveAccept answers each POST 202 once its body is committed as one row:
// the durable acceptance any HTTP service in Go pays, without checks,
// chaining or delivery.
func serveAccept(listen, dir, dbURL string) error {
	var db *sql.DB
	var err error
	insert := "INSERT INTO rows (body) VALUES (?)"
	if dbURL != "" {
		db, err = sql.Open("pgx", dbURL)
		if err != nil {
			return fmt.Errorf("open %s: %w", dbURL, err)
		}
		defer db.Close()
		db.SetMaxOpenConns(32) // pgbench's clients
		db.SetMaxIdleConns(32)
		insert = "INSERT INTO rows (body) VALUES ($1)"
		if _, err := db.Exec("DROP TABLE IF EXISTS rows; CREATE TABLE rows (id bigserial PRIMARY KEY, body text NOT NULL)"); err != nil {
			return fmt.Errorf("create table: %w", err)
		}
	} else {
		var closeDB func()
		db, closeDB, err = openSQLite(filepath.Join(dir, "accept.db"))
		if err != nil {
			return err
		}
		defer closeDB()
	}
	stmt, err := db.Prepare(insert)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer stmt.Close()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// One statement in autocommit, as pgbench's script is: one round
		// trip and one commit per request.
		if _, err := stmt.ExecContext(r.Context(), string(body)); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	return serve(listen, h)
}

// serve runs h on listen until SIGINT or SIGTERM.
func serve(listen string, h http.Handler) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
