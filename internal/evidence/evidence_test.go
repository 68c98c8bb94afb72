package evidence_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/evidence"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/internal/testenv"
	"github.com/minfin-kz/kopir/internal/units"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
	"github.com/minfin-kz/kopir/routes"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

const iin = "880501300124"

const envelope = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header/>` +
	`<soapenv:Body><SendMessage xmlns="http://bip.bee.kz/SyncChannel/v10/Types"><request><requestData><data>` +
	`<iin>` + iin + `</iin><lastName>Ахметов</lastName></data></requestData></request></SendMessage></soapenv:Body></soapenv:Envelope>`

// world is a store (raw handle beside it for tampering), a ledger keeping
// evidence, the vault reading it back, and a test PKI.
type world struct {
	st    *store.SQLStore
	raw   *sqlx.DB
	pg    bool
	l     *ledger.Ledger
	vault *evidence.Vault
	ca    *testpki.CA
	keys  *evidence.Keyring
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func newWorld(t *testing.T, dsn string, pg bool) *world {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	driver, rawDSN := "sqlite", strings.TrimPrefix(dsn, "sqlite://")
	if pg {
		driver, rawDSN = "pgx", dsn
	}
	raw, err := sqlx.Open(driver, rawDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	keys, err := evidence.NewKeyring([]string{"k1"}, [][]byte{key(1)})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := testpki.NewCA("Evidence test root", time.Now().AddDate(-3, 0, 0), time.Now().AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	trust, err := xmlsig.NewTrust([]*x509.Certificate{ca.Cert}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	specs := []routes.Spec{{Name: "shep.in"}, {Name: "short", EvidenceRetention: units.Duration(time.Hour)}, {Name: "gbdfl.person"}}
	l := ledger.New(st, specs, "k", slog.New(slog.DiscardHandler))
	l.KeepEvidence(keys, specs, 24*time.Hour*365)
	return &world{st: st, raw: raw, pg: pg, l: l, ca: ca, keys: keys, vault: &evidence.Vault{Store: st, Keys: keys, Trust: trust}}
}

// backends runs fn on SQLite and on a fresh PostgreSQL schema.
func backends(t *testing.T, fn func(t *testing.T, w *world)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newWorld(t, "sqlite://"+t.TempDir()+"/k.db", false)) })
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("KOPIR_TEST_DATABASE_URL")
		if base == "" {
			base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
		}
		admin, err := sqlx.Open("pgx", base)
		if err == nil {
			err = admin.Ping()
		}
		if err != nil {
			testenv.Unavailable(t, "PostgreSQL at %s: %v", base, err)
		}
		suffix := make([]byte, 5)
		rand.Read(suffix)
		schema := "ev_" + hex.EncodeToString(suffix)
		if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE"); admin.Close() })
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		fn(t, newWorld(t, base+sep+"search_path="+schema, true))
	})
}

// sign signs the test envelope with a certificate valid from notBefore to
// notAfter.
func (w *world) sign(t *testing.T, notBefore, notAfter time.Time) []byte {
	t.Helper()
	s, _, err := w.ca.Signer(testpki.Leaf{CommonName: "Sender org", NotBefore: notBefore, NotAfter: notAfter})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := xmlsig.Sign([]byte(envelope), s)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// receive has the ledger queue an inbound message carrying doc.
func (w *world) receive(t *testing.T, route string, doc []byte) string {
	t.Helper()
	id := routes.NewMessageID()
	m := &adapters.Inbound{Channel: "shep", Key: "svc", ExternalID: id, Body: []byte(`{"iin":"` + iin + `"}`), Raw: doc}
	if _, err := w.l.InboundQueued(context.Background(), id, route, "sender", m); err != nil {
		t.Fatal(err)
	}
	return id
}

func (w *world) verify(t *testing.T, id string) *evidence.Verification {
	t.Helper()
	v, err := w.vault.Verify(context.Background(), id)
	if err != nil {
		t.Fatalf("verify %s: %v", id, err)
	}
	return v
}

func (w *world) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if w.pg {
		q = sqlx.Rebind(sqlx.DOLLAR, q)
	}
	if _, err := w.raw.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

func TestKeptDocumentIsEncryptedAtRestAndComesBackUnchanged(t *testing.T) {
	backends(t, func(t *testing.T, w *world) {
		doc := w.sign(t, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
		id := w.receive(t, "shep.in", doc)

		got, rec, err := w.vault.Document(context.Background(), id, "", 1)
		if err != nil || !bytes.Equal(got, doc) {
			t.Fatalf("document back: %v, equal %v", err, bytes.Equal(got, doc))
		}
		if rec.Direction != store.Inbound || rec.Source != "shep" || rec.KeyID != "k1" || rec.Size != int64(len(doc)) {
			t.Errorf("record: %+v", rec)
		}
		// No column of the table holds the document or the IIN in clear.
		var rows []struct {
			A, B, C, D, E, F string
			G, H             []byte
		}
		q := "SELECT id AS a, message_id AS b, route AS c, source AS d, sha256 AS e, key_id AS f, nonce AS g, ciphertext AS h FROM evidence"
		if err := w.raw.Select(&rows, q); err != nil || len(rows) != 1 {
			t.Fatalf("raw rows: %d %v", len(rows), err)
		}
		all := fmt.Sprint(rows[0])
		for _, plain := range []string{iin, "Ахметов", "SignatureValue", "Envelope"} {
			if strings.Contains(all, plain) || bytes.Contains(rows[0].H, []byte(plain)) {
				t.Errorf("the evidence table holds %q in clear", plain)
			}
		}
		v := w.verify(t, id)
		r := v.Documents[0]
		if v.Result != evidence.ResultValid || !v.OK() || r.Signer == nil || r.Signer.Subject != "CN=Sender org,C=KZ" ||
			r.Signer.SerialNumber == "" || r.SignedDigest == "" || r.SigningTimeSource != "received" {
			t.Errorf("verification: %+v / %+v", summary(v), r)
		}
		// A kept record is on the message's trail, and the chain holds.
		trail, _ := w.st.Audit(context.Background(), id)
		if len(trail) != 3 || trail[2].Action != string(ledger.EvidenceKept) || !strings.Contains(trail[2].Detail, rec.SHA256) {
			t.Errorf("trail: %+v", trail)
		}
		if res, err := w.st.VerifyAudit(context.Background()); err != nil || !res.OK {
			t.Errorf("audit chain: %+v %v", res, err)
		}
	})
}

func TestTamperedRecordIsReportedNotAnError(t *testing.T) {
	backends(t, func(t *testing.T, w *world) {
		id := w.receive(t, "shep.in", w.sign(t, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)))
		var ct []byte
		if err := w.raw.Get(&ct, rebind(w, "SELECT ciphertext FROM evidence WHERE message_id = ?"), id); err != nil {
			t.Fatal(err)
		}
		ct[len(ct)/2] ^= 0x01 // one bit of one byte
		w.exec(t, "UPDATE evidence SET ciphertext = ? WHERE message_id = ?", ct, id)

		v := w.verify(t, id)
		if v.Result != evidence.ResultTampered || v.OK() || v.Documents[0].Result != evidence.ResultTampered {
			t.Errorf("tampered record: %+v", summary(v))
		}
		if _, _, err := w.vault.Document(context.Background(), id, "", 1); !errors.Is(err, evidence.ErrTampered) {
			t.Errorf("document of a tampered record: %v", err)
		}
	})
}

// A record moved onto another message, or re-dated to move its signing
// time, no longer opens: its identity is authenticated with the document.
func TestRedatedRecordIsTampered(t *testing.T) {
	backends(t, func(t *testing.T, w *world) {
		id := w.receive(t, "shep.in", w.sign(t, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)))
		w.exec(t, "UPDATE evidence SET received_at = ? WHERE message_id = ?", tsArg(w, time.Now().AddDate(-1, 0, 0)), id)
		if v := w.verify(t, id); v.Result != evidence.ResultTampered {
			t.Errorf("re-dated record: %+v", summary(v))
		}
	})
}

func TestCertificateExpiredNowButValidAtSigningTime(t *testing.T) {
	backends(t, func(t *testing.T, w *world) {
		now := time.Now()
		doc := w.sign(t, now.Add(-3*time.Hour), now.Add(-time.Hour)) // expired an hour ago
		received := now.Add(-2 * time.Hour)                          // while it was valid
		id := routes.NewMessageID()
		m := &adapters.Inbound{Channel: "shep", Key: "svc", Raw: doc}
		if err := w.l.InboundKept(context.Background(), id, "shep.in", m, received); err != nil {
			t.Fatal(err)
		}
		v := w.verify(t, id)
		r := v.Documents[0]
		if v.Result != evidence.ResultValid || !r.SigningTime.Equal(received.UTC().Truncate(time.Microsecond)) || r.Signer.NotAfter.After(now) {
			t.Errorf("valid at signing time: %s", summary(v))
		}
		// The same document checked as of now is expired: the signing time
		// is what made the difference.
		if now := evidence.Check(t.Context(), doc, now, w.vault.Trust); now.Result != string(xmlsig.ReasonExpired) {
			t.Errorf("checked as of now: %s %s", now.Result, now.Detail)
		}
		// A signature made after its certificate expired is not valid.
		late := routes.NewMessageID()
		if err := w.l.InboundKept(context.Background(), late, "shep.in", m, now); err != nil {
			t.Fatal(err)
		}
		if v := w.verify(t, late); v.Result != string(xmlsig.ReasonExpired) || v.OK() {
			t.Errorf("received after expiry: %+v", summary(v))
		}
	})
}

func TestUntrustedAndAlteredSignatures(t *testing.T) {
	backends(t, func(t *testing.T, w *world) {
		other, err := testpki.NewCA("Other root", time.Now().AddDate(-1, 0, 0), time.Now().AddDate(1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		s, _, err := other.Signer(testpki.Leaf{CommonName: "Stranger", NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		foreign, _ := xmlsig.Sign([]byte(envelope), s)
		if v := w.verify(t, w.receive(t, "shep.in", foreign)); v.Result != string(xmlsig.ReasonUntrusted) {
			t.Errorf("untrusted signer: %+v", summary(v))
		}
		// Changed before it was kept: kept as received, reported invalid.
		altered := bytes.Replace(w.sign(t, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)), []byte(iin), []byte("880501300125"), 1)
		if v := w.verify(t, w.receive(t, "shep.in", altered)); v.Result != string(xmlsig.ReasonInvalid) {
			t.Errorf("altered document: %+v", summary(v))
		}
		// ISO 20022 documents are kept too; nothing to verify in them.
		if v := w.verify(t, w.receive(t, "shep.in", []byte(`<Document><iin>`+iin+`</iin></Document>`))); v.Result != evidence.ResultUnsigned || !v.OK() {
			t.Errorf("unsigned document: %+v", summary(v))
		}
	})
}

func TestSignedOutboundEnvelopesAreKeptOncePerBody(t *testing.T) {
	backends(t, func(t *testing.T, w *world) {
		doc := w.sign(t, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
		spec := routes.Spec{Name: "gbdfl.person", Mode: routes.Sync}
		x := &routes.Exchange{Route: &routes.Route{Spec: spec}, Caller: "demo", Started: time.Now(), Outcome: routes.OutcomeDelivered,
			Request: adapters.Request{Route: spec.Name, MessageID: routes.NewMessageID(), Body: []byte(`{"iin":"` + iin + `"}`)}}
		for range 2 { // a retry sends the same bytes
			x.AddAttempt(adapters.AttemptInfo{Endpoint: "http://agency", StartedAt: time.Now(), StatusCode: 503, RequestBody: doc})
		}
		if err := w.l.Exchanged(context.Background(), x, nil); err != nil {
			t.Fatal(err)
		}
		recs, _ := w.st.Evidence(context.Background(), x.Request.MessageID)
		if len(recs) != 1 || recs[0].Direction != store.Outbound || recs[0].Source != "attempt 1" {
			t.Fatalf("outbound evidence: %+v", recs)
		}
		if v := w.verify(t, x.Request.MessageID); v.Result != evidence.ResultValid {
			t.Errorf("outbound verification: %+v", summary(v))
		}
		// An unsigned call keeps nothing.
		z := &routes.Exchange{Route: x.Route, Caller: "demo", Started: time.Now(), Outcome: routes.OutcomeDelivered,
			Request: adapters.Request{Route: spec.Name, MessageID: routes.NewMessageID(), Body: []byte(`{}`)}}
		z.AddAttempt(adapters.AttemptInfo{Endpoint: "http://agency", StartedAt: time.Now(), RequestBody: []byte(envelope)})
		if err := w.l.Exchanged(context.Background(), z, nil); err != nil {
			t.Fatal(err)
		}
		if recs, _ := w.st.Evidence(context.Background(), z.Request.MessageID); len(recs) != 0 {
			t.Errorf("unsigned request kept: %+v", recs)
		}
	})
}

func TestRetentionPurgeIsPerRouteAndAudited(t *testing.T) {
	backends(t, func(t *testing.T, w *world) {
		doc := w.sign(t, time.Now().Add(-3*time.Hour), time.Now().AddDate(1, 0, 0))
		old := time.Now().Add(-2 * time.Hour)
		keep := func(route string) string {
			id := routes.NewMessageID()
			if err := w.l.InboundKept(context.Background(), id, route, &adapters.Inbound{Channel: "shep", Raw: doc}, old); err != nil {
				t.Fatal(err)
			}
			return id
		}
		short, long := keep("short"), keep("shep.in") // retention 1h and the default
		n, err := w.l.PurgeEvidence(context.Background(), time.Now())
		if err != nil || n != 1 {
			t.Fatalf("purged %d, %v; want 1", n, err)
		}
		if _, err := w.vault.Verify(context.Background(), short); !errors.Is(err, evidence.ErrNone) {
			t.Errorf("purged record still there: %v", err)
		}
		if v := w.verify(t, long); v.Result != evidence.ResultValid {
			t.Errorf("record within its retention: %+v", summary(v))
		}
		trail, _ := w.st.Audit(context.Background(), short)
		if last := trail[len(trail)-1]; last.Action != string(ledger.EvidencePurged) || last.Actor != "bus" {
			t.Errorf("purge not on the trail: %+v", trail)
		}
		if n, err := w.l.PurgeEvidence(context.Background(), time.Now()); n != 0 || err != nil {
			t.Errorf("second purge: %d %v", n, err)
		}
		if res, err := w.st.VerifyAudit(context.Background()); err != nil || !res.OK {
			t.Errorf("audit chain after purge: %+v %v", res, err)
		}
	})
}

func TestKeysRotate(t *testing.T) {
	backends(t, func(t *testing.T, w *world) {
		id := w.receive(t, "shep.in", w.sign(t, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)))
		rotated, err := evidence.NewKeyring([]string{"k2", "k1"}, [][]byte{key(2), key(1)})
		if err != nil {
			t.Fatal(err)
		}
		w.l.KeepEvidence(rotated, nil, time.Hour)
		w.vault.Keys = rotated
		newer := w.receive(t, "shep.in", w.sign(t, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)))
		for msg, kid := range map[string]string{id: "k1", newer: "k2"} {
			if v := w.verify(t, msg); v.Result != evidence.ResultValid || v.Documents[0].KeyID != kid {
				t.Errorf("message %s: %+v, want key %s", msg, v, kid)
			}
		}
		w.vault.Keys, _ = evidence.NewKeyring([]string{"k2"}, [][]byte{key(2)})
		if v := w.verify(t, id); v.Result != evidence.ResultKeyUnavailable {
			t.Errorf("key k1 retired: %+v", summary(v))
		}
	})
}

// summary is a verification without the sealed bytes, for failures.
func summary(v *evidence.Verification) string {
	out := v.MessageID + " " + v.Result
	for _, d := range v.Documents {
		out += fmt.Sprintf("\n  %s %s %s %s key %s: %s %s (signing time %s %s)", d.ID, d.Direction, d.Source, d.Route, d.KeyID,
			d.Result, d.Detail, d.SigningTime, d.SigningTimeSource)
	}
	return out
}

func rebind(w *world, q string) string {
	if w.pg {
		return sqlx.Rebind(sqlx.DOLLAR, q)
	}
	return q
}

func tsArg(w *world, t time.Time) any {
	if w.pg {
		return t
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// The signature's own time, when it has one, is what the chain is checked
// as of; one claimed after the document arrived is not believed.
func TestSigningTimeFromTheSignature(t *testing.T) {
	w := newWorld(t, "sqlite://"+t.TempDir()+"/k.db", false)
	now := time.Now().UTC()
	signed := w.sign(t, now.Add(-3*time.Hour), now.Add(-time.Hour))
	stamp := func(at time.Time) []byte {
		ts := `<wsu:Timestamp xmlns:wsu="` + xmlsig.NSWSU + `"><wsu:Created>` + at.Format(time.RFC3339) + `</wsu:Created></wsu:Timestamp>`
		i := bytes.Index(signed, []byte("<ds:Signature"))
		return append(append(append([]byte(nil), signed[:i]...), ts...), signed[i:]...)
	}
	r := evidence.Check(t.Context(), stamp(now.Add(-2*time.Hour)), now, w.vault.Trust)
	if r.Result != evidence.ResultValid || r.SigningTimeSource != "signature" || !r.SigningTime.Equal(now.Add(-2*time.Hour).Truncate(time.Second)) {
		t.Errorf("signed at a time the certificate was valid: %s %s %s %s", r.Result, r.Detail, r.SigningTime, r.SigningTimeSource)
	}
	r = evidence.Check(t.Context(), stamp(now.Add(time.Hour)), now, w.vault.Trust)
	if r.Result != string(xmlsig.ReasonExpired) || r.SigningTimeSource != "received" {
		t.Errorf("a time after receipt: %s %s %s", r.Result, r.SigningTime, r.SigningTimeSource)
	}
}
