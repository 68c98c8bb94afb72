// Command ceiling measures what the machine allows, for make bench to set
// Köpir's figures against in the same run:
//
//	ceiling sqlite -dir D -duration 10s -workers 32
//	    single-row INSERT + COMMIT of a ~1 KB row into SQLite, with the
//	    store's writer settings (WAL, synchronous as internal/store sets
//	    it), from 32 goroutines through one connection as the store's
//	    writer has; prints commits per second.
//	ceiling fsync -dir D -n 500
//	    write 512 bytes to a file in D and fsync it, n times; prints the
//	    p50 and p99 in milliseconds.
//	ceiling proxy -listen A -upstream U
//	    Go's standard reverse proxy (net/http/httputil) from A to U, until
//	    interrupted: what a Go HTTP service that does nothing but pass a
//	    call on costs on these cores, for wrk to drive beside nginx.
//	ceiling accept -listen A -dir D | -database-url URL
//	    a Go HTTP server answering each POST 202 after one single-row
//	    INSERT + COMMIT of its body (SQLite in D with the store's writer
//	    settings, or PostgreSQL at URL), until interrupted: durable
//	    acceptance with nothing else done, for wrk to drive.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite"

	"github.com/minfin-kz/kopir/internal/store"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: ceiling sqlite|fsync [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	dir := fs.String("dir", os.TempDir(), "directory for the scratch files (the bus's data dir's file system)")
	dur := fs.Duration("duration", 10*time.Second, "sqlite: how long to insert")
	workers := fs.Int("workers", 32, "sqlite: concurrent inserters")
	n := fs.Int("n", 500, "fsync: how many writes")
	listen := fs.String("listen", "127.0.0.1:18085", "proxy, accept: address to serve on")
	upstream := fs.String("upstream", "http://127.0.0.1:18090", "proxy: where calls are passed on")
	dbURL := fs.String("database-url", "", "accept: PostgreSQL instead of SQLite in -dir")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "sqlite":
		return sqliteRate(*dir, *dur, *workers)
	case "fsync":
		return fsyncTimes(*dir, *n)
	case "proxy":
		return serveProxy(*listen, *upstream)
	case "accept":
		return serveAccept(*listen, *dir, *dbURL)
	}
	return fmt.Errorf("unknown measurement %q (known: sqlite, fsync, proxy, accept)", args[0])
}

func sqliteRate(dir string, dur time.Duration, workers int) error {
	db, closeDB, err := openSQLite(filepath.Join(dir, "ceiling.db"))
	if err != nil {
		return err
	}
	defer closeDB()
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	row := make([]byte, 1024)
	for i := range row {
		row[i] = 'a' + byte(i%26)
	}
	var commits atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				err := insert(ctx, db, row)
				if err != nil {
					if ctx.Err() == nil {
						once.Do(func() { firstErr = err })
					}
					return
				}
				commits.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("insert: %w", firstErr)
	}
	fmt.Printf("%.0f\n", float64(commits.Load())/time.Since(start).Seconds())
	return nil
}

func insert(ctx context.Context, db *sql.DB, row []byte) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO rows (body) VALUES (?)", row); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func fsyncTimes(dir string, n int) error {
	f, err := os.CreateTemp(dir, "fsync-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 512)
	times := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		times = append(times, time.Since(t))
	}
	slices.Sort(times)
	q := func(p float64) float64 { return float64(times[int(p*float64(len(times)-1))]) / 1e6 }
	fmt.Printf("%.3f %.3f\n", q(0.50), q(0.99))
	return nil
}

// openSQLite creates a database at path with one table, rows (id, body),
// and opens it as the store opens its own: one writer connection with the
// writer's settings, and the WAL checkpointed on a connection of its own.
// closeDB stops the checkpoints, closes both and removes the files.
func openSQLite(path string) (db *sql.DB, closeDB func(), err error) {
	db, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&"+store.SQLiteWriterPragmas)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer connection, as the store has
	ck, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)"); err != nil {
		db.Close()
		ck.Close()
		return nil, nil, fmt.Errorf("create table: %w", err)
	}
	ckctx, stopCk := context.WithCancel(context.Background())
	ckDone := make(chan struct{})
	go func() {
		defer close(ckDone)
		// The WAL's restart checkpoint goes through the writer pool's one
		// connection, between two of the writers' transactions.
		store.Checkpointer(ckctx, ck, path, func() { _, _ = db.ExecContext(ckctx, "PRAGMA wal_checkpoint(PASSIVE)") })
	}()
	return db, func() {
		stopCk()
		<-ckDone
		ck.Close()
		db.Close()
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(path + suffix)
		}
	}, nil
}
