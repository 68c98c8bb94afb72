package xmlsig

import (
	"crypto/x509"
	"strings"
)

// Identity is whom a certificate names in the way Kazakhstan's NCA
// certificates do: an organisation by its BIN, a person by their IIN. NCA
// puts "IIN<12 digits>" in the subject serialNumber, and an organisation's
// "BIN<12 digits>" in the serialNumber of an organisation's own
// certificate or in the organizationalUnit of its employees' certificates.
type Identity struct {
	BIN string // "" when the certificate names no organisation
	IIN string // "" when it names no person
}

// IdentityOf reads the BIN and IIN a certificate's subject carries. Only
// the exact NCA form counts (prefix and twelve digits), so a free-text
// attribute that merely contains digits names nobody.
func IdentityOf(cert *x509.Certificate) Identity {
	var id Identity
	if cert == nil {
		return id
	}
	if v, ok := taggedNumber(cert.Subject.SerialNumber, "BIN"); ok {
		id.BIN = v
	}
	if v, ok := taggedNumber(cert.Subject.SerialNumber, "IIN"); ok {
		id.IIN = v
	}
	if id.BIN == "" {
		for _, ou := range cert.Subject.OrganizationalUnit {
			if v, ok := taggedNumber(ou, "BIN"); ok {
				id.BIN = v
				break
			}
		}
	}
	return id
}

// String names the identity as NCA writes it, for refusals and logs.
func (id Identity) String() string {
	var parts []string
	if id.BIN != "" {
		parts = append(parts, "BIN"+id.BIN)
	}
	if id.IIN != "" {
		parts = append(parts, "IIN"+id.IIN)
	}
	if len(parts) == 0 {
		return "no BIN or IIN"
	}
	return strings.Join(parts, ", ")
}

func taggedNumber(v, tag string) (string, bool) {
	digits, ok := strings.CutPrefix(strings.TrimSpace(v), tag)
	if !ok || len(digits) != 12 {
		return "", false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", false
		}
	}
	return digits, true
}
