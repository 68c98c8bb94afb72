// Package ncanode is the HTTP API of NCANode 3.x, the open-source signing
// service Kazakh integrations use for NCA keys (GOST 34.310-2004, GOST
// 34.10-2015 and RSA), as far as Köpir uses it: signing and verifying a
// SOAP envelope with WS-Security (the layout SHEP wants) and reading a
// certificate's status. The shapes follow NCANode's published OpenAPI
// description (openapi.yml of github.com/malikzh/NCANode, 3.x) and its
// DTOs; docs/ncanode.md says where Köpir had to assume.
//
// Both Köpir's client (adapters/ncanode) and the mock NCANode
// (mocks/ncanode) speak these types, as the SHEP adapter and the mock
// gateway share contracts/egov-shep: the wire format has one definition.
package ncanode

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Endpoints, relative to NCANode's base URL (default port 14579). Every
// call is a POST of JSON answered with JSON.
const (
	// PathWSSESign signs a SOAP envelope: wsu:Id on soap:Body, one
	// ds:Signature over it in a wsse:Security header (SmartBridge's layout).
	PathWSSESign = "/wsse/sign"
	// PathWSSEVerify verifies such an envelope and the signer's certificate.
	PathWSSEVerify = "/wsse/verify"
	// PathX509Info reports on certificates: validity, chain to NCANode's CA
	// store, revocation when asked.
	PathX509Info = "/x509/info"
)

// Revocation sources a verification may ask NCANode to consult
// (revocationCheck). Without any, NCANode checks dates and issuer only.
const (
	RevocationOCSP = "OCSP"
	RevocationCRL  = "CRL"
)

// Key usages NCANode derives from a certificate's key usage bits:
// digitalSignature+nonRepudiation is SIGN, digitalSignature+
// keyEncipherment is AUTH.
const (
	KeyUsageSign    = "SIGN"
	KeyUsageAuth    = "AUTH"
	KeyUsageUnknown = "UNKNOWN"
)

// WSSESignRequest is the body of POST /wsse/sign.
type WSSESignRequest struct {
	XML string `json:"xml"`
	// Key is the PKCS#12 container, base64; NCANode keeps no keys, so it
	// travels with every request.
	Key      string `json:"key"`
	Password string `json:"password"`
	// KeyAlias picks a key in a container holding several; empty: the
	// only one.
	KeyAlias string `json:"keyAlias,omitempty"`
	// TrimXML makes NCANode strip whitespace between elements first.
	TrimXML bool `json:"trimXml,omitempty"`
}

// VerifyRequest is the body of POST /wsse/verify (XML) and POST
// /x509/info (Certs).
type VerifyRequest struct {
	XML string `json:"xml,omitempty"`
	// Certs are certificates, base64 (DER, or PEM text as NCANode's own
	// example gives it).
	Certs           []string `json:"certs,omitempty"`
	RevocationCheck []string `json:"revocationCheck,omitempty"`
}

// Status is in every answer, errors included: status repeats the HTTP
// status, message says why on an error ("OK" otherwise).
type Status struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
	// Details is the cause, only when NCANode runs with detailed errors.
	Details string `json:"details,omitempty"`
}

// SignResponse answers /wsse/sign.
type SignResponse struct {
	Status
	XML string `json:"xml"`
}

// VerificationResponse answers /wsse/verify and /x509/info. Valid is true
// when every signature and certificate is good; Signers describes each
// certificate, in order (one for /wsse/verify: NCANode checks the first
// signature only).
type VerificationResponse struct {
	Status
	Valid   bool              `json:"valid"`
	Signers []CertificateInfo `json:"signers"`
}

// CertificateInfo is NCANode's account of one certificate. Valid means
// within its dates, issued by a CA NCANode knows, and not revoked by the
// sources asked for.
type CertificateInfo struct {
	Valid        bool         `json:"valid"`
	Revocations  []Revocation `json:"revocations,omitempty"`
	NotBefore    Time         `json:"notBefore"`
	NotAfter     Time         `json:"notAfter"`
	KeyUsage     string       `json:"keyUsage,omitempty"`
	SerialNumber string       `json:"serialNumber"` // hexadecimal
	SignAlg      string       `json:"signAlg,omitempty"`
	KeyUser      []string     `json:"keyUser,omitempty"` // INDIVIDUAL, ORGANIZATION, CEO, …
	PublicKey    string       `json:"publicKey,omitempty"`
	Signature    string       `json:"signature,omitempty"`
	Subject      *Subject     `json:"subject,omitempty"`
	Issuer       *Subject     `json:"issuer,omitempty"`
}

// Revocation is one revocation check's result.
type Revocation struct {
	Revoked        bool   `json:"revoked"`
	By             string `json:"by"` // OCSP or CRL
	RevocationTime *Time  `json:"revocationTime,omitempty"`
	Reason         string `json:"reason,omitempty"`
}

// Subject is a certificate's subject or issuer as NCANode reads it: IIN
// and BIN come from SERIALNUMBER ("IIN…"/"BIN…") and OU.
type Subject struct {
	CommonName   string `json:"commonName,omitempty"`
	LastName     string `json:"lastName,omitempty"`
	SurName      string `json:"surName,omitempty"`
	Email        string `json:"email,omitempty"`
	Organization string `json:"organization,omitempty"`
	IIN          string `json:"iin,omitempty"`
	BIN          string `json:"bin,omitempty"`
	Country      string `json:"country,omitempty"`
	Locality     string `json:"locality,omitempty"`
	State        string `json:"state,omitempty"`
	DN           string `json:"dn,omitempty"`
}

// Time is a date as NCANode writes it (Jackson's ISO form,
// 2022-05-02T08:38:13.000+00:00).
type Time struct{ time.Time }

// timeLayouts are what NCANode's dates have been seen as: the documented
// ISO form, and the same with the zone written without a colon.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700"}

// MarshalJSON writes the documented form.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.Format("2006-01-02T15:04:05.000-07:00"))
}

// UnmarshalJSON reads any of timeLayouts; null is the zero time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("ncanode: date: %w", err)
	}
	for _, l := range timeLayouts {
		if v, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			t.Time = v
			return nil
		}
	}
	return fmt.Errorf("ncanode: date %q is not in NCANode's ISO form", s)
}
