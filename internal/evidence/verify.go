package evidence

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// Results of checking one kept document.
const (
	// ResultValid: the signature verifies and its certificate chained to a
	// trust root, unrevoked and within validity, at the signing time.
	ResultValid = "VALID"
	// ResultSignatureOnly: the signature verifies, but no trust roots are
	// configured (evidence.trust) to check its certificate against.
	ResultSignatureOnly = "SIGNATURE_ONLY"
	// ResultUnsigned: the document carries no XML signature (an ISO 20022
	// document, say); it is kept as received, nothing to verify.
	ResultUnsigned = "UNSIGNED"
	// ResultTampered: the stored record was altered after it was kept.
	ResultTampered = "TAMPERED"
	// ResultKeyUnavailable: the record's key is not configured here.
	ResultKeyUnavailable = "KEY_UNAVAILABLE"
)

// clockSkew is how far a signature's own time may lie after the bus
// received the document before it is disbelieved.
const clockSkew = 5 * time.Minute

// Signer is what the signing certificate says.
type Signer struct {
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer"`
	SerialNumber string    `json:"serialNumber"`
	NotBefore    time.Time `json:"notBefore"`
	NotAfter     time.Time `json:"notAfter"`
}

// Report is what checking one kept document found.
type Report struct {
	store.Evidence
	Result string  `json:"result"`
	Detail string  `json:"detail,omitempty"`
	Signer *Signer `json:"signer,omitempty"`
	// SigningTime is what the chain was checked as of: the signature's own
	// time (wsu:Timestamp/wsu:Created), or the time the bus received or
	// sent the document when the signature carries none.
	SigningTime       time.Time `json:"signingTime,omitzero"`
	SigningTimeSource string    `json:"signingTimeSource,omitempty"` // "signature", "received" or "sent"
	SignatureMethod   string    `json:"signatureMethod,omitempty"`
	// SignedDigest is the digest of soap:Body the signature covers (base64).
	SignedDigest string `json:"signedDigest,omitempty"`
}

// Verification is the check of every document kept for one message.
type Verification struct {
	MessageID string   `json:"messageId"`
	Result    string   `json:"result"` // the worst of the documents' results
	Documents []Report `json:"documents"`
}

// OK reports whether nothing was found wrong: every document is VALID or
// UNSIGNED.
func (v *Verification) OK() bool {
	for _, d := range v.Documents {
		if d.Result != ResultValid && d.Result != ResultUnsigned {
			return false
		}
	}
	return len(v.Documents) > 0
}

// Vault reads kept documents back: opens them and re-verifies them.
type Vault struct {
	Store store.Store
	Keys  *Keyring      // nil: evidence is not kept by this bus
	Trust *xmlsig.Trust // nil: chains are not checked
}

// ErrNone is returned (wrapped) when a message has no kept document.
var ErrNone = errors.New("evidence: no document kept for this message")

// Document returns a kept document of a message as it was received or
// sent: the n-th (from 1, oldest first), or the record with evidenceID.
func (v *Vault) Document(ctx context.Context, messageID, evidenceID string, n int) ([]byte, store.Evidence, error) {
	recs, err := v.Store.Evidence(ctx, messageID)
	if err != nil {
		return nil, store.Evidence{}, err
	}
	for i, e := range recs {
		if (evidenceID != "" && e.ID == evidenceID) || (evidenceID == "" && i+1 == max(n, 1)) {
			doc, err := v.open(e)
			return doc, e, err
		}
	}
	return nil, store.Evidence{}, fmt.Errorf("%w (message %s)", ErrNone, messageID)
}

func (v *Vault) open(e store.Evidence) ([]byte, error) {
	if v.Keys == nil {
		return nil, fmt.Errorf("%w: record %s is sealed with key %q, and no evidence key is configured", ErrKeyUnavailable, e.ID, e.KeyID)
	}
	return v.Keys.Open(e)
}

// Verify checks every document kept for a message. Findings about the
// documents (tampered, invalid, expired) are in the result, not errors.
func (v *Vault) Verify(ctx context.Context, messageID string) (*Verification, error) {
	recs, err := v.Store.Evidence(ctx, messageID)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w (message %s)", ErrNone, messageID)
	}
	out := &Verification{MessageID: messageID, Result: ResultValid}
	for _, e := range recs {
		doc, err := v.open(e)
		var r Report
		switch {
		case errors.Is(err, ErrTampered):
			r = Report{Evidence: e, Result: ResultTampered, Detail: err.Error()}
		case err != nil:
			r = Report{Evidence: e, Result: ResultKeyUnavailable, Detail: err.Error()}
		default:
			r = Check(ctx, doc, e.ReceivedAt, v.Trust)
			r.Evidence = e
			if r.SigningTimeSource == "received" && e.Direction == store.Outbound {
				r.SigningTimeSource = "sent"
			}
		}
		out.Documents = append(out.Documents, r)
		out.Result = worse(out.Result, r.Result)
	}
	return out, nil
}

// worse orders results so that a message's result is its worst document's.
func worse(a, b string) string {
	rank := func(r string) int {
		switch r {
		case ResultValid:
			return 0
		case ResultUnsigned:
			return 1
		case ResultSignatureOnly:
			return 2
		case ResultTampered:
			return 5
		case ResultKeyUnavailable:
			return 3
		}
		return 4 // a signature or certificate finding
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// Check verifies one document's XML signature and, with trust, its
// certificate chain as of the signing time.
func Check(ctx context.Context, doc []byte, receivedAt time.Time, trust *xmlsig.Trust) Report {
	if !bytes.Contains(doc, []byte(xmlsig.NSDS)) {
		return Report{Result: ResultUnsigned, Detail: "the document carries no XML signature"}
	}
	r := Report{SigningTime: receivedAt.UTC(), SigningTimeSource: "received"}
	if t, ok := signatureTime(doc); ok && !t.After(receivedAt.Add(clockSkew)) {
		r.SigningTime, r.SigningTimeSource = t.UTC(), "signature"
	}
	ver, err := xmlsig.Verify(doc)
	if err != nil {
		r.Result, r.Detail = reason(err), err.Error()
		return r
	}
	c := ver.Certificate
	r.Signer = &Signer{Subject: c.Subject.String(), Issuer: c.Issuer.String(), SerialNumber: c.SerialNumber.String(),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC()}
	r.SignatureMethod, r.SignedDigest = ver.SignatureMethod, base64.StdEncoding.EncodeToString(ver.Digest)
	if trust == nil {
		r.Result, r.Detail = ResultSignatureOnly, "the signature verifies; its certificate was not checked: no evidence.trust is configured"
		return r
	}
	if err := trust.Check(ctx, c, r.SigningTime); err != nil {
		r.Result, r.Detail = reason(err), err.Error()
		return r
	}
	r.Result = ResultValid
	r.Detail = fmt.Sprintf("the signature verifies and the certificate was valid and trusted at %s", r.SigningTime.Format(time.RFC3339))
	return r
}

func reason(err error) string {
	var xe *xmlsig.Error
	if errors.As(err, &xe) {
		return string(xe.Reason)
	}
	return string(xmlsig.ReasonMalformed)
}

// signatureTime is the wsu:Created of the WS-Security header's
// wsu:Timestamp, when the document has one.
func signatureTime(doc []byte) (time.Time, bool) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	inTimestamp := false
	for {
		tok, err := dec.Token()
		if err == io.EOF || err != nil {
			return time.Time{}, false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case t.Name.Space == xmlsig.NSWSU && t.Name.Local == "Timestamp":
				inTimestamp = true
			case inTimestamp && t.Name.Space == xmlsig.NSWSU && t.Name.Local == "Created":
				var s string
				if dec.DecodeElement(&s, &t) != nil {
					return time.Time{}, false
				}
				at, err := time.Parse(time.RFC3339Nano, s)
				return at, err == nil
			case t.Name.Space == xmlsig.NSSOAP && t.Name.Local == "Body":
				return time.Time{}, false
			}
		case xml.EndElement:
			if t.Name.Space == xmlsig.NSWSU && t.Name.Local == "Timestamp" {
				inTimestamp = false
			}
		}
	}
}
