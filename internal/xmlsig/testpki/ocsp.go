package testpki

import (
	"crypto"
	"crypto/x509"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSPResponse answers for cert as ca's responder would: signed by ca
// itself, or by signer (a responder certificate and its key) when given.
func (ca *CA) OCSPResponse(cert *x509.Certificate, status int, revokedAt, thisUpdate, nextUpdate time.Time, signer *x509.Certificate, key crypto.Signer) ([]byte, error) {
	tpl := ocsp.Response{Status: status, SerialNumber: cert.SerialNumber, ThisUpdate: thisUpdate, NextUpdate: nextUpdate, RevokedAt: revokedAt}
	if status == ocsp.Revoked {
		tpl.RevocationReason = ocsp.KeyCompromise
	}
	if signer == nil {
		return ocsp.CreateResponse(ca.Cert, ca.Cert, tpl, ca.Key)
	}
	tpl.Certificate = signer
	return ocsp.CreateResponse(ca.Cert, signer, tpl, key)
}

// OCSPResponder is a CA's OCSP responder for tests: certificates it was
// told about are good or revoked, others unknown. Hang holds every
// request until Release, as a responder behind a dead link would.
type OCSPResponder struct {
	CA *CA
	// Signer and Key sign the answers instead of the CA (a delegated
	// responder, or one the CA never delegated to).
	Signer *x509.Certificate
	Key    crypto.Signer

	mu      sync.Mutex
	revoked map[string]time.Time
	good    map[string]bool
	hang    chan struct{}
	asked   int
}

// Good and Revoke say what the responder answers for cert.
func (o *OCSPResponder) Good(cert *x509.Certificate) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.good == nil {
		o.good = map[string]bool{}
	}
	o.good[cert.SerialNumber.String()] = true
	delete(o.revoked, cert.SerialNumber.String())
}

func (o *OCSPResponder) Revoke(cert *x509.Certificate, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.revoked == nil {
		o.revoked = map[string]time.Time{}
	}
	o.revoked[cert.SerialNumber.String()] = at
	delete(o.good, cert.SerialNumber.String())
}

// Hang holds requests from now on; Release lets them and later ones go.
func (o *OCSPResponder) Hang() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.hang == nil {
		o.hang = make(chan struct{})
	}
}

func (o *OCSPResponder) Release() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.hang != nil {
		close(o.hang)
		o.hang = nil
	}
}

// Asked is how many requests reached the responder.
func (o *OCSPResponder) Asked() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.asked
}

func (o *OCSPResponder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.asked++
	hang := o.hang
	o.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req, err := ocsp.ParseRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	status, revokedAt := o.status(req.SerialNumber)
	der, err := o.CA.answer(req.SerialNumber, status, revokedAt, now.Add(-time.Minute), now.Add(time.Hour), o.Signer, o.Key)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	_, _ = w.Write(der)
}

func (o *OCSPResponder) status(serial *big.Int) (int, time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if at, ok := o.revoked[serial.String()]; ok {
		return ocsp.Revoked, at
	}
	if o.good[serial.String()] {
		return ocsp.Good, time.Time{}
	}
	return ocsp.Unknown, time.Time{}
}

func (ca *CA) answer(serial *big.Int, status int, revokedAt, thisUpdate, nextUpdate time.Time, signer *x509.Certificate, key crypto.Signer) ([]byte, error) {
	return ca.OCSPResponse(&x509.Certificate{SerialNumber: serial}, status, revokedAt, thisUpdate, nextUpdate, signer, key)
}
