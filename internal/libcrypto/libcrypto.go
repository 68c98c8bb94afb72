// Package libcrypto signs with RSA private keys through OpenSSL's libcrypto,
// by a small cgo wrapper.
//
// Why: every signed SOAP envelope costs one RSA-2048 private-key operation.
// Go's crypto/rsa does it in constant-time generic code (and checks each
// signature after making it) at three to four times the cost of
// libcrypto's assembly on the same core, and that one operation is most of
// a signed route's CPU. The maintained Go binding (golang-fips/openssl) is
// not available from the module proxy this project builds with, so this
// package wraps the few calls it needs: the key is handed to libcrypto
// once as PKCS#8 DER (d2i_AutoPrivateKey) and each signature is
// EVP_PKEY_sign over a SHA-256 digest with PKCS#1 v1.5 padding. Only the
// private-key operation moves to C: hashing, verification and everything
// else stay in Go.
//
// Safety: an RSAKey is safe for concurrent use. Each Sign has an
// EVP_PKEY_CTX to itself, taken from the key's idle ones or set up anew
// and put back after (an EVP_PKEY is read-only once built and libcrypto
// counts its references), and the whole operation, including reading
// libcrypto's per-thread error queue, is one C call, so a goroutine moving
// between threads cannot read another call's errors. The EVP_PKEY and the
// idle contexts are freed by Close, or by a cleanup when the RSAKey is no
// longer reachable.
//
// Build: needs libcrypto's headers and pkg-config (Debian: libssl-dev,
// pkg-config) and a C compiler; the binary links libcrypto.so.3.
package libcrypto

/*
#cgo pkg-config: libcrypto
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/err.h>
#include <openssl/x509.h>

// kc_errors writes the thread's queued libcrypto errors into buf, oldest
// first, separated by "; ", and empties the queue.
static void kc_errors(char *buf, size_t n) {
	size_t used = 0;
	unsigned long e;
	buf[0] = 0;
	while ((e = ERR_get_error()) != 0) {
		if (used + 3 >= n) {
			continue;
		}
		if (used > 0) {
			memcpy(buf + used, "; ", 3);
			used += 2;
		}
		ERR_error_string_n(e, buf + used, n - used);
		used += strlen(buf + used);
	}
}

// kc_load decodes an unencrypted PKCS#8 private key. It returns NULL and
// the reason in errbuf when the DER is not a key libcrypto can read.
static EVP_PKEY *kc_load(const unsigned char *der, long len, char *errbuf, size_t errlen) {
	ERR_clear_error();
	const unsigned char *p = der;
	EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, len);
	if (k == NULL) {
		kc_errors(errbuf, errlen);
	}
	return k;
}

static int kc_is_rsa(EVP_PKEY *k) { return EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA; }

// Steps of kc_sign, so a failure names the call that failed.
enum { KC_OK = 0, KC_CTX_NEW, KC_SIGN_INIT, KC_SET_PADDING, KC_SET_MD, KC_SIGN };

// kc_sign makes a PKCS#1 v1.5 RSA signature over a SHA-256 digest. *ctxp
// is a context already set up for that, or NULL to set one up; on return
// it is the context to keep for the next signature, or NULL when the call
// failed (the context is freed then, as its state is unknown). Setting a
// context up costs about 3% of the signature in OpenSSL 3.0 (the provider's
// algorithm is fetched each time), so the caller keeps them.
static int kc_sign(EVP_PKEY *k, EVP_PKEY_CTX **ctxp, const unsigned char *dgst, size_t dlen,
                   unsigned char *sig, size_t *siglen, char *errbuf, size_t errlen) {
	int step = KC_OK;
	ERR_clear_error();
	EVP_PKEY_CTX *ctx = *ctxp;
	if (ctx == NULL) {
		ctx = EVP_PKEY_CTX_new(k, NULL);
		if (ctx == NULL) {
			step = KC_CTX_NEW;
		} else if (EVP_PKEY_sign_init(ctx) <= 0) {
			step = KC_SIGN_INIT;
		} else if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) {
			step = KC_SET_PADDING;
		} else if (EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0) {
			step = KC_SET_MD;
		}
	}
	if (step == KC_OK && EVP_PKEY_sign(ctx, sig, siglen, dgst, dlen) <= 0) {
		step = KC_SIGN;
	}
	if (step != KC_OK) {
		kc_errors(errbuf, errlen);
		EVP_PKEY_CTX_free(ctx);
		ctx = NULL;
	}
	*ctxp = ctx;
	return step;
}
*/
import "C"

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"unsafe"
)

const errLen = 512

// RSAKey is an RSA private key held by libcrypto. It implements
// crypto.Signer for PKCS#1 v1.5 signatures over SHA-256 digests, the
// suite of RSA-SHA256 XML signatures; other options are refused.
type RSAKey struct {
	mu      sync.RWMutex // Sign holds it shared; Close exclusively
	pkey    *C.EVP_PKEY  // nil once closed
	pub     *rsa.PublicKey
	size    int // signature length in bytes
	idle    *idleContexts
	cleanup runtime.Cleanup
}

// maxIdle bounds the contexts a key keeps between signatures: more than
// the signatures that run at once on a bus's cores, fewer than a burst of
// goroutines could leave behind.
const maxIdle = 16

// idleContexts are contexts set up for signing with one key, waiting for
// the next Sign. It is apart from RSAKey so the key's cleanup can free them.
type idleContexts struct {
	mu   sync.Mutex
	ctxs []*C.EVP_PKEY_CTX
}

func (c *idleContexts) get() *C.EVP_PKEY_CTX {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.ctxs)
	if n == 0 {
		return nil
	}
	ctx := c.ctxs[n-1]
	c.ctxs = c.ctxs[:n-1]
	return ctx
}

func (c *idleContexts) put(ctx *C.EVP_PKEY_CTX) {
	c.mu.Lock()
	if len(c.ctxs) < maxIdle {
		c.ctxs = append(c.ctxs, ctx)
		ctx = nil
	}
	c.mu.Unlock()
	if ctx != nil {
		C.EVP_PKEY_CTX_free(ctx)
	}
}

// free frees the key and every idle context, which hold references to it.
func (c *idleContexts) free(pkey *C.EVP_PKEY) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ctx := range c.ctxs {
		C.EVP_PKEY_CTX_free(ctx)
	}
	c.ctxs = nil
	C.EVP_PKEY_free(pkey)
}

// NewRSAKey copies key into libcrypto. The signature it makes for a test
// digest is checked with crypto/rsa before the key is returned, so a key
// libcrypto reads differently from Go is refused here and not at the
// first envelope.
func NewRSAKey(key *rsa.PrivateKey) (*RSAKey, error) {
	if key == nil {
		return nil, errors.New("libcrypto: no RSA key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("libcrypto: encoding the RSA key as PKCS#8: %w", err)
	}
	// The DER is the private key: wipe the Go copy once libcrypto has its own.
	defer clear(der)
	return fromPKCS8(der, &key.PublicKey)
}

// fromPKCS8 builds the key from PKCS#8 DER and checks it against pub, the
// public key the caller knows it by.
func fromPKCS8(der []byte, pub *rsa.PublicKey) (*RSAKey, error) {
	if len(der) == 0 {
		return nil, errors.New("libcrypto: empty PKCS#8 key")
	}
	var errbuf [errLen]C.char
	pkey := C.kc_load((*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)), &errbuf[0], errLen)
	if pkey == nil {
		return nil, fmt.Errorf("libcrypto: d2i_AutoPrivateKey: %s", reason(errbuf[:]))
	}
	if C.kc_is_rsa(pkey) == 0 {
		C.EVP_PKEY_free(pkey)
		return nil, errors.New("libcrypto: the PKCS#8 key is not an RSA key")
	}
	idle := &idleContexts{}
	k := &RSAKey{pkey: pkey, pub: pub, size: int(C.EVP_PKEY_get_size(pkey)), idle: idle}
	k.cleanup = runtime.AddCleanup(k, func(p *C.EVP_PKEY) { idle.free(p) }, pkey)
	if k.size != pub.Size() {
		k.Close()
		return nil, fmt.Errorf("libcrypto: the key's signatures are %d bytes in libcrypto and %d in Go", k.size, pub.Size())
	}
	probe := sha256.Sum256([]byte("libcrypto key check"))
	sig, err := k.Sign(nil, probe[:], crypto.SHA256)
	if err == nil {
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, probe[:], sig)
	}
	if err != nil {
		k.Close()
		return nil, fmt.Errorf("libcrypto: the key's test signature: %w", err)
	}
	return k, nil
}

// Public returns the key's *rsa.PublicKey.
func (k *RSAKey) Public() crypto.PublicKey { return k.pub }

// Sign signs digest, a SHA-256 hash, with PKCS#1 v1.5 padding. opts must
// name crypto.SHA256 and must not be *rsa.PSSOptions. rand is not used:
// PKCS#1 v1.5 signatures are deterministic, and the blinding of the
// private-key operation takes its randomness from libcrypto's own
// generator.
func (k *RSAKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		return nil, errors.New("libcrypto: RSA sign: no signer options; want crypto.SHA256")
	}
	if _, pss := opts.(*rsa.PSSOptions); pss {
		return nil, errors.New("libcrypto: RSA sign: PSS padding is not supported, only PKCS#1 v1.5")
	}
	if h := opts.HashFunc(); h != crypto.SHA256 {
		return nil, fmt.Errorf("libcrypto: RSA sign: hash %v is not supported, only SHA-256", h)
	}
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("libcrypto: RSA sign: the digest is %d bytes, a SHA-256 digest is %d", len(digest), sha256.Size)
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.pkey == nil {
		return nil, errors.New("libcrypto: RSA sign: the key is closed")
	}
	sig := make([]byte, k.size)
	siglen := C.size_t(len(sig))
	var errbuf [errLen]C.char
	ctx := k.idle.get()
	step := C.kc_sign(k.pkey, &ctx, (*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &siglen, &errbuf[0], errLen)
	if ctx != nil {
		k.idle.put(ctx)
	}
	if step != C.KC_OK {
		return nil, fmt.Errorf("libcrypto: RSA sign: %s: %s", stepName(step), reason(errbuf[:]))
	}
	if int(siglen) != k.size {
		return nil, fmt.Errorf("libcrypto: RSA sign: EVP_PKEY_sign wrote %d bytes, the key's signatures are %d", siglen, k.size)
	}
	return sig, nil
}

// Close frees the key in libcrypto. Sign fails after Close; a second
// Close does nothing. Without Close the key is freed when the RSAKey is
// collected.
func (k *RSAKey) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pkey == nil {
		return nil
	}
	k.cleanup.Stop()
	k.idle.free(k.pkey)
	k.pkey = nil
	return nil
}

func stepName(step C.int) string {
	switch step {
	case C.KC_CTX_NEW:
		return "EVP_PKEY_CTX_new"
	case C.KC_SIGN_INIT:
		return "EVP_PKEY_sign_init"
	case C.KC_SET_PADDING:
		return "EVP_PKEY_CTX_set_rsa_padding"
	case C.KC_SET_MD:
		return "EVP_PKEY_CTX_set_signature_md"
	case C.KC_SIGN:
		return "EVP_PKEY_sign"
	}
	return fmt.Sprintf("step %d", int(step))
}

// reason is libcrypto's error text, or a note that it queued none.
func reason(buf []C.char) string {
	if s := C.GoString(&buf[0]); s != "" {
		return s
	}
	return "no error queued by libcrypto"
}
