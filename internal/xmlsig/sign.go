package xmlsig

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/beevik/etree"
	"github.com/google/uuid"
)

// Sign returns envelope with a WS-Security signature over its soap:Body in
// the gateway's layout. The Body gets a wsu:Id unless it has one. An
// envelope that already carries a wsse:Security header is refused: the
// gateway accepts exactly one signature.
func Sign(envelope []byte, s Signer) ([]byte, error) {
	return sign(envelope, s, newBodyID, true)
}

func newBodyID() string { return "id-" + uuid.NewString() }

// sign is Sign with the Body's new Id from newID, and with simple false
// always on the etree path (splice.go), so that tests can hold the two
// paths to the same bytes.
func sign(envelope []byte, s Signer, newID func() string, simple bool) ([]byte, error) {
	if s == nil {
		return nil, errors.New("xmlsig: no signer")
	}
	var (
		doc *etree.Document
		env *etree.Element
		sd  *simpleDoc
		ok  bool
	)
	if simple {
		doc, env, sd, ok = parseSimple(envelope)
	}
	if !ok {
		var err error
		if doc, env, err = parse(envelope); err != nil {
			return nil, err
		}
	}
	header, body, err := parts(env)
	if err != nil {
		return nil, err
	}
	if header != nil && len(children(header, NSWSSE, "Security")) > 0 {
		return nil, errors.New("xmlsig: the envelope already has a wsse:Security header")
	}
	headerCreated := header == nil
	if headerCreated {
		header = etree.NewElement("Header")
		header.Space = env.Space
		env.InsertChildAt(body.Index(), header)
	}
	bodyAttrs, added := len(body.Attr), 0
	id := bodyID(body)
	if id == "" {
		id = newID()
		body.CreateAttr("xmlns:wsu", NSWSU)
		body.CreateAttr("wsu:Id", id)
		added = 2
	}
	alg := s.Algorithm()
	bodyC14N, err := canonical(body, "")
	if err != nil {
		return nil, fmt.Errorf("xmlsig: canonicalizing soap:Body: %w", err)
	}

	sec := header.CreateElement("wsse:Security")
	sec.CreateAttr("xmlns:wsse", NSWSSE)
	sec.CreateAttr("xmlns:wsu", NSWSU)
	soapPrefix := env.Space
	if soapPrefix == "" {
		soapPrefix = "soapenv"
		sec.CreateAttr("xmlns:soapenv", NSSOAP)
	}
	sec.CreateAttr(soapPrefix+":mustUnderstand", "1")

	sig := sec.CreateElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", NSDS)
	digest := base64.StdEncoding.EncodeToString(alg.Digest(bodyC14N))
	signedInfo(sig, alg, id, digest)
	value, err := s.Sign(signedInfoC14N(alg, id, digest))
	if err != nil {
		return nil, fmt.Errorf("xmlsig: signing: %w", err)
	}
	sig.CreateElement("ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))
	kid := sig.CreateElement("ds:KeyInfo").CreateElement("wsse:SecurityTokenReference").CreateElement("wsse:KeyIdentifier")
	kid.CreateAttr("EncodingType", EncodingBase64)
	kid.CreateAttr("ValueType", ValueTypeX509v3)
	kid.SetText(base64.StdEncoding.EncodeToString(s.Certificate().Raw))

	// The header adds the certificate and ~1 KB of markup: one buffer for
	// the whole envelope instead of a growing one.
	grow := 2*len(s.Certificate().Raw) + 2048
	if sd != nil {
		if out, ok := sd.write(header, sec, body, headerCreated, bodyAttrs, added, grow); ok {
			return out, nil
		}
	}
	var out bytes.Buffer
	out.Grow(len(envelope) + grow)
	if _, err := doc.WriteTo(&out); err != nil {
		return nil, fmt.Errorf("xmlsig: writing the signed envelope: %w", err)
	}
	return out.Bytes(), nil
}

// signedInfo appends to sig the ds:SignedInfo of a signature over the
// element with wsu:Id id whose digest (base64) is given.
func signedInfo(sig *etree.Element, alg Algorithm, id, digest string) {
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", ExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", alg.SignatureMethod())
	ref := si.CreateElement("ds:Reference")
	ref.CreateAttr("URI", "#"+id)
	ref.CreateElement("ds:Transforms").CreateElement("ds:Transform").CreateAttr("Algorithm", ExcC14N)
	ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", alg.DigestMethod())
	ref.CreateElement("ds:DigestValue").SetText(digest)
}

// signedInfoC14N is the exclusive C14N of what signedInfo builds, written
// out directly: Sign builds that element itself, so its canonical form is
// known without canonicalizing it (a tenth of the envelope work).
// TestSignedInfoC14N holds it equal to the element canonicalized.
func signedInfoC14N(alg Algorithm, id, digest string) []byte {
	b := make([]byte, 0, 768)
	attr := func(name, v string) {
		b = append(b, ' ')
		b = append(b, name...)
		b = append(b, `="`...)
		b = appendC14NAttr(b, v)
		b = append(b, '"')
	}
	b = append(b, `<ds:SignedInfo`...)
	attr("xmlns:ds", NSDS)
	b = append(b, `><ds:CanonicalizationMethod`...)
	attr("Algorithm", ExcC14N)
	b = append(b, `></ds:CanonicalizationMethod><ds:SignatureMethod`...)
	attr("Algorithm", alg.SignatureMethod())
	b = append(b, `></ds:SignatureMethod><ds:Reference`...)
	attr("URI", "#"+id)
	b = append(b, `><ds:Transforms><ds:Transform`...)
	attr("Algorithm", ExcC14N)
	b = append(b, `></ds:Transform></ds:Transforms><ds:DigestMethod`...)
	attr("Algorithm", alg.DigestMethod())
	b = append(b, `></ds:DigestMethod><ds:DigestValue>`...)
	b = appendC14NText(b, digest)
	return append(b, `</ds:DigestValue></ds:Reference></ds:SignedInfo>`...)
}
