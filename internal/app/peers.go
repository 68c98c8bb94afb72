package app

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/httpguard"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// agencyTLS is the agency listener's TLS config, nil for plain HTTP. A
// client certificate is asked for, never demanded, at the handshake: each
// channel verifies it against its own roots (peerGate), so that a refusal
// is an answer on record rather than a broken handshake, and a channel
// without clientCerts serves clients that have none.
func agencyTLS(file string, c *config.ListenerTLS) (*tls.Config, error) {
	if c == nil {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, &config.FieldError{File: file, Field: "listen.agencyTLS", Msg: err.Error()}
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// listen opens addr, over TLS when tc is given.
func listen(addr string, tc *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil || tc == nil {
		return ln, err
	}
	return tls.NewListener(ln, tc), nil
}

// clientTrust loads what a channel's client certificates must chain to;
// nil when the channel asks for none.
func clientTrust(file string, i int, spec config.Channel) (*xmlsig.Trust, error) {
	if spec.ClientCerts == nil {
		return nil, nil
	}
	t, err := xmlsig.LoadTrust(spec.ClientCerts.TrustConfig)
	if err != nil {
		return nil, &config.FieldError{File: file, Field: fmt.Sprintf("channels[%d].clientCerts", i), Msg: err.Error()}
	}
	return t, nil
}

// peerGate verifies the TLS client certificate of a request to a channel
// with clientCerts, and hands the verified one to the channel. A
// certificate presented and not trusted is refused even where none is
// required: a client that shows one expects it to count.
func peerGate(spec config.Channel, trust *xmlsig.Trust, guard *httpguard.Listener, now func() time.Time, h http.Handler) http.Handler {
	if trust == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var presented bool
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			presented = true
			certs := r.TLS.PeerCertificates
			if err := trust.CheckPresented(r.Context(), certs, now()); err != nil {
				p := problem.New(http.StatusForbidden, "client certificate untrusted", clientCertDetail(err))
				p.Code = clientCertCode(err)
				guard.Refuse(w, r, httpguard.Refusal{Route: spec.Name + ":" + r.URL.Path}, p)
				return
			}
			r = r.WithContext(adapters.WithPeerCertificate(r.Context(), certs[0]))
		}
		if !presented && spec.ClientCerts.Required {
			p := problem.New(http.StatusUnauthorized, "client certificate required",
				"the channel "+spec.Name+" takes connections with a TLS client certificate only")
			guard.Refuse(w, r, httpguard.Refusal{Route: spec.Name + ":" + r.URL.Path}, p)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func clientCertCode(err error) string {
	var se *xmlsig.Error
	if errors.As(err, &se) {
		return string(se.Reason)
	}
	return string(xmlsig.ReasonUntrusted)
}

func clientCertDetail(err error) string {
	var se *xmlsig.Error
	if errors.As(err, &se) {
		return se.Detail
	}
	return err.Error()
}
