package xmlsig

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// KeyConfig names where a sender's key and certificate are: a PEM pair, or
// a PKCS#12 container (what NCA issues, e.g. RSA256_….p12). The PKCS#12
// password is read from an environment variable or a file rather than
// written into the YAML.
type KeyConfig struct {
	Cert string `yaml:"cert" json:"cert"` // PEM certificate (first block is the signer's)
	Key  string `yaml:"key" json:"key"`   // PEM private key (PKCS#8, PKCS#1)

	PKCS12       string `yaml:"pkcs12" json:"pkcs12"`
	PasswordEnv  string `yaml:"passwordEnv" json:"passwordEnv"`
	PasswordFile string `yaml:"passwordFile" json:"passwordFile"`
	DemoPassword string `yaml:"password" json:"password"` // demo configs only
}

// Empty reports whether no key is configured (the route sends unsigned).
func (c KeyConfig) Empty() bool {
	return c.Cert == "" && c.Key == "" && c.PKCS12 == ""
}

// LoadSigner builds the signer a KeyConfig describes. Only RSA keys are
// built in; a GOST key is refused with a message saying so.
func LoadSigner(c KeyConfig) (Signer, error) {
	switch {
	case c.PKCS12 != "" && (c.Cert != "" || c.Key != ""):
		return nil, errors.New("xmlsig: give either pkcs12 or cert+key, not both")
	case c.PKCS12 != "":
		return loadPKCS12(c)
	case c.Cert == "" || c.Key == "":
		return nil, errors.New("xmlsig: a PEM key needs both cert and key")
	}
	certs, err := readCerts(c.Cert)
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(c.Key)
	if err != nil {
		return nil, fmt.Errorf("xmlsig: %w", err)
	}
	key, err := ParsePrivateKey(kb)
	if err != nil {
		return nil, fmt.Errorf("xmlsig: %s: %w", c.Key, err)
	}
	return NewRSASigner(key, certs[0])
}

func loadPKCS12(c KeyConfig) (Signer, error) {
	b, pass, err := c.PKCS12Material()
	if err != nil {
		return nil, err
	}
	key, cert, _, err := pkcs12.DecodeChain(b, pass)
	if err != nil {
		return nil, fmt.Errorf("xmlsig: %s: %w", c.PKCS12, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("xmlsig: %s: key type %T cannot sign", c.PKCS12, key)
	}
	return NewRSASigner(s, cert)
}

// PKCS12Material reads the PKCS#12 container and its password (from
// passwordEnv, passwordFile or, in demo configs, password), for a provider
// that is handed the container itself rather than a key: NCANode takes it
// with every request, because it keeps no keys of its own.
func (c KeyConfig) PKCS12Material() (container []byte, password string, err error) {
	if c.PKCS12 == "" {
		return nil, "", errors.New("xmlsig: no pkcs12 container configured")
	}
	password = c.DemoPassword
	switch {
	case c.PasswordEnv != "":
		v, ok := os.LookupEnv(c.PasswordEnv)
		if !ok {
			return nil, "", fmt.Errorf("xmlsig: environment variable %s (PKCS#12 password) is not set", c.PasswordEnv)
		}
		password = v
	case c.PasswordFile != "":
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, "", fmt.Errorf("xmlsig: PKCS#12 password: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	if container, err = os.ReadFile(c.PKCS12); err != nil {
		return nil, "", fmt.Errorf("xmlsig: %w", err)
	}
	return container, password, nil
}

// ParsePrivateKey reads the first private key block of a PEM file.
func ParsePrivateKey(b []byte) (crypto.Signer, error) {
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, errors.New("no PEM private key found")
		}
		var (
			k   any
			err error
		)
		switch blk.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("key type %T cannot sign", k)
		}
		return s, nil
	}
}
