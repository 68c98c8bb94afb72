// Package store is Köpir's audited message store: messages, their delivery
// attempts and an append-only, hash-chained audit log, kept with sqlx in
// SQLite (default, embedded) or PostgreSQL (by DSN) under the same schema.
package store

import (
	"context"
	"encoding/json"
	"time"
)

// Status is where a message stands.
type Status string

const (
	Received  Status = "RECEIVED"
	Queued    Status = "QUEUED"
	Delivered Status = "DELIVERED"
	Failed    Status = "FAILED" // sync call that failed
	Dead      Status = "DEAD"   // async retries exhausted
	Rejected  Status = "REJECTED"
	// Held: accepted, but a business check an operator can judge failed
	// (an unmatched statement entry); it waits, payload kept, for an
	// operator to edit, resubmit or discard it. Holds has why.
	Held Status = "HELD"
	// Discarded: a held message an operator decided not to deliver, with
	// the reason on its audit trail. Final; the payload is dropped.
	Discarded Status = "DISCARDED"
)

// Statuses lists every status, in the order a message usually meets them.
var Statuses = []Status{Received, Queued, Held, Delivered, Failed, Dead, Rejected, Discarded}

// Direction tells who started the exchange.
type Direction string

const (
	Outbound Direction = "OUT" // internal caller → agency
	Inbound  Direction = "IN"  // agency → internal subscriber
)

// Message is one exchange. RequestBody/ResponseBody are stored with the
// route's personal-data fields masked or hashed; Payload is the unmasked
// request kept only while an async delivery may still need it (it is dropped
// when the message is DELIVERED).
type Message struct {
	ID             string    `db:"id" json:"id"`
	Route          string    `db:"route" json:"route"`
	Direction      Direction `db:"direction" json:"direction"`
	Caller         string    `db:"caller" json:"caller"`
	CorrelationID  string    `db:"correlation_id" json:"correlationId"`
	IdempotencyKey string    `db:"idempotency_key" json:"idempotencyKey,omitempty"`
	// RequestFingerprint identifies the request that took IdempotencyKey
	// (hex SHA-256 of its canonical body), so that a repeat with another
	// body is told apart from a true repeat.
	RequestFingerprint string `db:"request_fingerprint" json:"requestFingerprint,omitempty"`
	ExternalID         string `db:"external_id" json:"externalId,omitempty"` // e.g. SHEP messageId of an inbound message
	// Subject is the business object the message is about (an ISIN), ""
	// for most; once set it stays.
	Subject string `db:"subject" json:"subject,omitempty"`
	// TraceID is the W3C trace the message belongs to ("" outside any
	// trace); TraceParent and TraceState are the context of the span that
	// stored it, which an async delivery continues.
	TraceID      string          `db:"trace_id" json:"traceId,omitempty"`
	TraceParent  string          `db:"trace_parent" json:"-"`
	TraceState   string          `db:"trace_state" json:"-"`
	Status       Status          `db:"status" json:"status"`
	HTTPStatus   int             `db:"http_status" json:"httpStatus,omitempty"` // what the caller was answered
	Error        string          `db:"error" json:"error,omitempty"`
	RequestBody  json.RawMessage `db:"request_body" json:"requestBody,omitempty"`
	ResponseBody json.RawMessage `db:"response_body" json:"responseBody,omitempty"`
	Payload      []byte          `db:"payload" json:"-"`
	Attempts     int             `db:"attempts" json:"attemptCount"`
	CreatedAt    time.Time       `db:"created_at" json:"createdAt"`
	UpdatedAt    time.Time       `db:"updated_at" json:"updatedAt"`
}

// Attempt is one try at reaching an endpoint.
type Attempt struct {
	MessageID    string    `db:"message_id" json:"-"`
	N            int       `db:"n" json:"n"`
	Endpoint     string    `db:"endpoint" json:"endpoint"`
	HTTPStatus   int       `db:"http_status" json:"httpStatus,omitempty"`
	LatencyMS    float64   `db:"latency_ms" json:"latencyMs"`
	Error        string    `db:"error" json:"error,omitempty"`
	RequestBody  []byte    `db:"request_body" json:"requestBody,omitempty"`   // wire body, masked
	ResponseBody []byte    `db:"response_body" json:"responseBody,omitempty"` // wire body, masked
	StartedAt    time.Time `db:"started_at" json:"startedAt"`
}

// AuditRecord is one link of the hash chain. Hash = SHA-256 over PrevHash
// and the record's canonical fields; see Chain in audit.go.
type AuditRecord struct {
	Seq       int64     `db:"seq" json:"seq"`
	At        time.Time `db:"at" json:"at"`
	MessageID string    `db:"message_id" json:"messageId,omitempty"`
	Actor     string    `db:"actor" json:"actor"`   // caller, agency, "bus", or operator
	Action    string    `db:"action" json:"action"` // e.g. RECEIVED, DELIVERED, REPLAY
	Detail    string    `db:"detail" json:"detail,omitempty"`
	PrevHash  string    `db:"prev_hash" json:"prevHash"`
	Hash      string    `db:"hash" json:"hash"`
}

// Event is what a caller hands the store to record: a new or updated
// message, the attempts made since the last write, and the audit actions
// the change stands for. The store writes an Event atomically; the audit
// chain's order is the order events commit in.
type Event struct {
	Message  *Message // upserted by ID
	Attempts []Attempt
	Audit    []AuditEntry
	// Evidence is kept alongside; a document a message already has (same
	// digest) is not kept twice.
	Evidence []Evidence
	// PurgeEvidence names evidence records to delete, in the transaction
	// that appends the audit entries saying so.
	PurgeEvidence []string
	// Hold is why Message is held, written (or rewritten) with it.
	Hold *Hold
	// HeldChanges are upserted by ID: a proposed change, or its decision.
	HeldChanges []HeldChange
}

// HoldReason is one failed business check of a held message: the field
// of the payload at fault (a JSON path such as
// statements[0].entries[2].endToEndId) and why.
type HoldReason struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Hold is why a message was held, as of HeldAt.
type Hold struct {
	MessageID string       `json:"messageId"`
	Reasons   []HoldReason `json:"reasons"`
	HeldAt    time.Time    `json:"heldAt"`
}

// ChangeState is where an operator's proposed change to a held message
// stands.
type ChangeState string

const (
	ChangePending  ChangeState = "PENDING"  // waits for a second operator (four eyes)
	ChangeApproved ChangeState = "APPROVED" // applied: the message was resubmitted with it
	ChangeDeclined ChangeState = "DECLINED" // not applied
)

// HeldChange is an operator's edit of a held message's payload.
// DigestBefore and DigestAfter are hex SHA-256 of the payload it replaces
// and of Payload. Payload is kept only while the change is pending: once
// decided it is either the message's payload or not wanted.
type HeldChange struct {
	ID           string      `json:"id"`
	MessageID    string      `json:"messageId"`
	Payload      []byte      `json:"-"`
	DigestBefore string      `json:"digestBefore"`
	DigestAfter  string      `json:"digestAfter"`
	Proposer     string      `json:"proposer"`
	Reason       string      `json:"reason,omitempty"`
	CreatedAt    time.Time   `json:"createdAt"`
	DecidedBy    string      `json:"decidedBy,omitempty"`
	DecidedAt    time.Time   `json:"decidedAt,omitzero"`
	State        ChangeState `json:"state"`
}

// Evidence is one signed document kept as received or sent, sealed:
// Ciphertext is the document under the key KeyID (AES-256-GCM with Nonce),
// and SHA256 is the hex digest of the document itself. The store never
// sees the document in clear.
type Evidence struct {
	ID         string    `json:"id"`
	MessageID  string    `json:"messageId"`
	Route      string    `json:"route"`
	Direction  Direction `json:"direction"`
	Source     string    `json:"source"` // the channel, or "attempt N" for what the bus sent
	SHA256     string    `json:"sha256"`
	Size       int64     `json:"size"`
	KeyID      string    `json:"keyId"`
	Nonce      []byte    `json:"-"`
	Ciphertext []byte    `json:"-"`
	ReceivedAt time.Time `json:"receivedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

// AuditEntry is the caller's side of an audit record; the store fills Seq,
// At (when zero), PrevHash and Hash.
type AuditEntry struct {
	MessageID string
	Actor     string
	Action    string
	Detail    string
	At        time.Time
}

// Filter selects messages for listing and bulk replay.
type Filter struct {
	Status    Status
	Subject   string
	Route     string
	Direction Direction
	Caller    string
	// CorrelationID and ExternalID find a message by an id it carries
	// (the caller's correlation id; an end-to-end id, a SHEP messageId).
	CorrelationID string
	ExternalID    string
	Since         time.Time
	Before        time.Time
	AfterID       string // keyset pagination: messages created after this id's row
	Limit         int
}

// Counts is how many messages stand in each status.
type Counts map[Status]int

// VerifyResult is what walking the audit chain found.
type VerifyResult struct {
	Records  int64  `json:"records"`
	OK       bool   `json:"ok"`
	FirstBad int64  `json:"firstBadSeq,omitempty"` // first record that fails to verify, or the first missing seq
	Problem  string `json:"problem,omitempty"`     // "altered" or "deleted" (ProblemAltered, ProblemDeleted)
	HeadHash string `json:"headHash"`
}

// Store is the message store. Implementations are safe for concurrent use.
type Store interface {
	// Record writes ev durably before returning (group commit: concurrent
	// calls share one transaction).
	Record(ctx context.Context, ev Event) error
	Get(ctx context.Context, id string) (*Message, error) // ErrNotFound
	FindByIdempotencyKey(ctx context.Context, caller, key string) (*Message, error)
	FindByExternalID(ctx context.Context, route, externalID string) (*Message, error)
	Attempts(ctx context.Context, id string) ([]Attempt, error)
	Audit(ctx context.Context, messageID string) ([]AuditRecord, error)
	List(ctx context.Context, f Filter) ([]Message, error)
	Count(ctx context.Context, f Filter) (Counts, error)
	VerifyAudit(ctx context.Context) (VerifyResult, error)
	// Evidence returns the documents kept for a message, oldest first
	// (empty, not an error, for a message with none).
	Evidence(ctx context.Context, messageID string) ([]Evidence, error)
	// ExpiredEvidence lists up to limit records whose retention ended
	// before t, without their ciphertext.
	ExpiredEvidence(ctx context.Context, t time.Time, limit int) ([]Evidence, error)
	// Holds returns why each of ids is held, by message id; a message with
	// no hold is absent.
	Holds(ctx context.Context, ids []string) (map[string]Hold, error)
	// HeldChanges returns the changes proposed to a message, oldest first
	// (empty, not an error, for none).
	HeldChanges(ctx context.Context, messageID string) ([]HeldChange, error)
	Close() error
}
