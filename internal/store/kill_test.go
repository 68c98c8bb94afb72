package store

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

const childDSNEnv = "KOPIR_STORE_KILL_CHILD_DSN"

// TestDurableAcrossKill runs a child process that records events from 8
// goroutines and prints each id once Record has returned, kills it with
// SIGKILL mid-stream, and checks that every acknowledged event is there and
// the chain is intact: "durable when Record returns" must survive kill -9.
func TestDurableAcrossKill(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		dsn := b.fresh(t)
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childDSNEnv+"="+dsn)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var acked []string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
				acked = append(acked, id)
				if len(acked) == 300 {
					if err := cmd.Process.Kill(); err != nil {
						t.Fatal(err)
					}
					break
				}
			}
		}
		_ = cmd.Wait()
		if len(acked) < 300 {
			t.Fatalf("child acknowledged only %d events before exiting", len(acked))
		}

		s := openStore(t, dsn)
		for _, id := range acked {
			if _, err := s.Get(ctx, id); err != nil {
				t.Fatalf("acknowledged %s lost: %v", id, err)
			}
			if recs, _ := s.Audit(ctx, id); len(recs) != 1 {
				t.Fatalf("acknowledged %s: audit %v", id, recs)
			}
		}
		res := mustVerify(t, s)
		if !res.OK || res.Records < int64(len(acked)) {
			t.Fatalf("after kill: %+v (acked %d)", res, len(acked))
		}
		// The chain goes on from where the killed process left it.
		record(t, s, Event{Audit: []AuditEntry{{Actor: "test", Action: "AFTER-KILL"}}})
		if res2 := mustVerify(t, s); !res2.OK || res2.Records != res.Records+1 {
			t.Fatalf("after restart: %+v", res2)
		}
	})
}

// TestKillChild is the child of TestDurableAcrossKill; it does nothing in a
// normal run.
func TestKillChild(t *testing.T) {
	dsn := os.Getenv(childDSNEnv)
	if dsn == "" {
		t.Skip("child process of TestDurableAcrossKill")
	}
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("k%d-%d", g, i)
				err := s.Record(ctx, Event{Message: &Message{ID: id, Status: Received, Payload: []byte("p")},
					Audit: []AuditEntry{{Actor: "c", Action: "RECEIVED"}}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %s\n", id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
