package ncanode

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	contract "github.com/minfin-kz/kopir/contracts/ncanode"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// refusal reads NCANode's account of a certificate into the reason Köpir
// refuses it for, or "" when NCANode finds nothing wrong. NCANode gives a
// verdict (valid) and the facts behind it; the most specific fact wins:
// revoked, then outside its dates, then a revocation source that was asked
// and gave no answer, then whatever else made NCANode say invalid (an
// issuer it does not know).
func refusal(ci *contract.CertificateInfo, asked []string, now time.Time) (xmlsig.Reason, string) {
	who := subject(ci)
	for _, r := range ci.Revocations {
		if r.Revoked {
			when := ""
			if r.RevocationTime != nil && !r.RevocationTime.IsZero() {
				when = " at " + r.RevocationTime.UTC().Format(time.RFC3339)
			}
			return xmlsig.ReasonRevoked, fmt.Sprintf("NCANode: the certificate of %s (serial %s) was revoked%s according to %s%s", who, ci.SerialNumber, when, r.By, because(r.Reason))
		}
	}
	switch {
	case !ci.NotBefore.IsZero() && now.Before(ci.NotBefore.Time):
		return xmlsig.ReasonExpired, fmt.Sprintf("NCANode: the certificate of %s is not valid before %s", who, ci.NotBefore.UTC().Format(time.RFC3339))
	case !ci.NotAfter.IsZero() && now.After(ci.NotAfter.Time):
		return xmlsig.ReasonExpired, fmt.Sprintf("NCANode: the certificate of %s expired at %s", who, ci.NotAfter.UTC().Format(time.RFC3339))
	}
	if ci.Valid {
		return "", ""
	}
	for _, src := range asked {
		if !checkedBy(ci.Revocations, src) {
			return xmlsig.ReasonCRL, fmt.Sprintf("NCANode: the certificate of %s could not be checked with %s", who, src)
		}
	}
	return xmlsig.ReasonUntrusted, fmt.Sprintf("NCANode does not hold the certificate of %s (serial %s) valid: not issued by a CA it trusts, or its issuer is outside its validity", who, ci.SerialNumber)
}

func checkedBy(rs []contract.Revocation, by string) bool {
	for _, r := range rs {
		if strings.EqualFold(r.By, by) {
			return true
		}
	}
	return false
}

func because(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}

func subject(ci *contract.CertificateInfo) string {
	if ci.Subject != nil && ci.Subject.DN != "" {
		return fmt.Sprintf("%q", ci.Subject.DN)
	}
	if ci.Subject != nil && ci.Subject.CommonName != "" {
		return fmt.Sprintf("%q", ci.Subject.CommonName)
	}
	return "serial " + ci.SerialNumber
}

// sameCertificate reports whether NCANode described cert: serial numbers
// compared as NCANode writes them (hexadecimal, no leading zeros). An
// answer without a serial cannot be compared and is taken as about cert.
func sameCertificate(ci *contract.CertificateInfo, cert *x509.Certificate) bool {
	if ci.SerialNumber == "" {
		return true
	}
	return strings.EqualFold(strings.TrimLeft(ci.SerialNumber, "0"), strings.TrimLeft(cert.SerialNumber.Text(16), "0"))
}
