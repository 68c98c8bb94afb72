package store

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
)

// TestPostgresBatchIsTwoRoundTrips holds the writer to two round trips a
// batch on PostgreSQL (steps.go: one pipeline up to the upserts, whose
// results number the attempts, and one to the commit), counted on the wire
// between the store and the server. A writer that waits for each
// statement's answer again would take six.
func TestPostgresBatchIsTwoRoundTrips(t *testing.T) {
	dsn := freshPostgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	wire := countRoundTrips(t, u.Host)
	u.Host = wire.addr
	s := openStore(t, u.String())

	exchange := func(id string) Event {
		return Event{
			Message:  &Message{ID: id, Route: "egov.person", Direction: Outbound, Caller: "tax", Status: Delivered, HTTPStatus: 200},
			Attempts: []Attempt{{Endpoint: "https://egov.example/person", HTTPStatus: 200, LatencyMS: 3}},
			Audit:    []AuditEntry{{Actor: "tax", Action: "RECEIVED"}, {Actor: "bus", Action: "DELIVERED"}},
		}
	}
	// The first batch of a shape also prepares its statements.
	record(t, s, exchange("m-1"))
	before := wire.n.Load()
	record(t, s, exchange("m-2"))
	if got := wire.n.Load() - before; got != 2 {
		t.Errorf("a batch of one exchange took %d round trips to PostgreSQL, want 2", got)
	}
	if n, err := s.Attempts(context.Background(), "m-2"); err != nil || len(n) != 1 || n[0].N != 1 {
		t.Errorf("attempts of m-2: %+v, %v; want one, numbered 1", n, err)
	}
	mustVerify(t, s)
}

// roundTripCounter relays connections to a PostgreSQL server and counts the
// client's Sync and simple Query messages: after each the client waits for
// the server's ReadyForQuery, so each is one round trip.
type roundTripCounter struct {
	addr string
	n    atomic.Int64
}

func countRoundTrips(t *testing.T, server string) *roundTripCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c := &roundTripCounter{addr: ln.Addr().String()}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go c.relay(client, server)
		}
	}()
	return c
}

// relay passes client's messages to server as they come, counting; a
// failed dial shows as the store's own error.
func (c *roundTripCounter) relay(client net.Conn, server string) {
	defer client.Close()
	up, err := net.Dial("tcp", server)
	if err != nil {
		return
	}
	defer up.Close()
	go func() {
		_, _ = io.Copy(client, up)
		client.Close()
	}()
	r := bufio.NewReader(client)
	// The startup message, and an SSL or GSS encryption request before it,
	// have no type byte.
	for {
		msg, err := readMessage(r, false)
		if err != nil {
			return
		}
		if _, err := up.Write(msg); err != nil {
			return
		}
		if code := binary.BigEndian.Uint32(msg[4:8]); code != 80877103 && code != 80877104 {
			break
		}
	}
	for {
		msg, err := readMessage(r, true)
		if err != nil {
			return
		}
		if msg[0] == 'S' || msg[0] == 'Q' {
			c.n.Add(1)
		}
		if _, err := up.Write(msg); err != nil {
			return
		}
	}
}

// readMessage reads one frontend message whole: a type byte when typed,
// then a length that counts itself.
func readMessage(r *bufio.Reader, typed bool) ([]byte, error) {
	head := 4
	if typed {
		head = 5
	}
	msg := make([]byte, head)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(msg[head-4:]))
	if n < 4 || n > 1<<30 {
		return nil, errors.New("bad message length")
	}
	msg = append(msg, make([]byte, n-4)...)
	_, err := io.ReadFull(r, msg[head:])
	return msg, err
}
