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
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "sqlite":
		return sqliteRate(*dir, *dur, *workers)
	case "fsync":
		return fsyncTimes(*dir, *n)
	}
	return fmt.Errorf("unknown measurement %q (known: sqlite, fsync)", args[0])
}

func sqliteRate(dir string, dur time.Duration, workers int) error {
	path := filepath.Join(dir, "ceiling.db")
	defer os.Remove(path)
	defer os.Remove(path + "-wal")
	defer os.Remove(path + "-shm")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&"+store.SQLiteWriterPragmas)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one writer connection, as the store has
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	// The store's writer leaves checkpoints to a connection of their own;
	// so does the ceiling.
	ck, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer ck.Close()
	ck.SetMaxOpenConns(1)
	ckctx, stopCk := context.WithCancel(context.Background())
	ckDone := make(chan struct{})
	defer func() { stopCk(); <-ckDone }()
	if _, err := db.ExecContext(ctx, "CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)"); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	row := make([]byte, 1024)
	for i := range row {
		row[i] = 'a' + byte(i%26)
	}
	go func() {
		defer close(ckDone)
		// The WAL's restart checkpoint goes through the writer pool's one
		// connection, between two of the workers' transactions.
		store.Checkpointer(ckctx, ck, func() { _, _ = db.ExecContext(ckctx, "PRAGMA wal_checkpoint(PASSIVE)") })
	}()
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
