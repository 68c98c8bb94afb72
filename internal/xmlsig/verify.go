package xmlsig

import (
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"strings"

	"github.com/beevik/etree"
)

// Verified is what a valid signature tells about an envelope.
type Verified struct {
	Certificate *x509.Certificate
	// SignatureMethod is the suite the sender used.
	SignatureMethod string
	// BodyID is the wsu:Id of the signed soap:Body.
	BodyID string
	// Digest is the signed digest of soap:Body (DigestValue).
	Digest []byte
}

// Verify checks that envelope carries exactly one WS-Security signature in
// the gateway's layout and that it covers the envelope's one soap:Body, and
// returns the signing certificate. Whether that certificate is to be
// trusted is Trust.Check's question.
//
// The layout is enforced strictly, because the classic attacks on XML
// signatures (wrapping, duplicate Ids) work by making the verifier and the
// application read different elements: the envelope must have one Header
// and one Body and nothing else, the Reference must name the Body's own
// wsu:Id, and no other element may carry that Id.
func Verify(envelope []byte) (*Verified, error) { return verify(envelope, true) }

// Inspect applies every layout rule of Verify — one Header, one Body, one
// Security header with one Signature whose one Reference names the Body's
// own unique wsu:Id, a certificate in the KeyIdentifier — without the
// cryptography. It is for a provider that checks digest and signature
// value elsewhere (NCANode for GOST, which Go cannot compute): the
// provider vouches for the mathematics, Inspect for the profile, so a
// wrapped or doubled signature is refused whoever does the arithmetic.
func Inspect(envelope []byte) (*Verified, error) { return verify(envelope, false) }

// verify is Verify, or Inspect without crypto: one walk through the
// envelope, so that a layout rule added here holds for both.
func verify(envelope []byte, crypto bool) (*Verified, error) {
	_, env, err := parse(envelope)
	if err != nil {
		return nil, err
	}
	header, body, err := parts(env)
	if err != nil {
		return nil, err
	}
	if header == nil {
		return nil, fail(ReasonMissing, "the envelope has no soap:Header, so no wsse:Security signature")
	}
	sec, err := only(header, NSWSSE, "Security", ReasonMissing)
	if err != nil {
		return nil, err
	}
	sig, err := only(sec, NSDS, "Signature", ReasonMissing)
	if err != nil {
		return nil, err
	}
	si, err := only(sig, NSDS, "SignedInfo", ReasonMalformed)
	if err != nil {
		return nil, err
	}
	cm, err := only(si, NSDS, "CanonicalizationMethod", ReasonMalformed)
	if err != nil {
		return nil, err
	}
	if a := cm.SelectAttrValue("Algorithm", ""); a != ExcC14N {
		return nil, fail(ReasonUnsupported, "SignedInfo canonicalization %q, only exclusive C14N (%s) is accepted", a, ExcC14N)
	}
	sm, err := only(si, NSDS, "SignatureMethod", ReasonMalformed)
	if err != nil {
		return nil, err
	}
	method := sm.SelectAttrValue("Algorithm", "")
	alg, ok := Lookup(method)
	if !ok && crypto {
		return nil, fail(ReasonUnsupported, "signature algorithm %q is not supported (supported: %s)", method, strings.Join(Supported(), ", "))
	}
	ref, err := only(si, NSDS, "Reference", ReasonMalformed)
	if err != nil {
		return nil, err
	}
	id := bodyID(body)
	uri := ref.SelectAttrValue("URI", "")
	switch {
	case id == "":
		return nil, fail(ReasonWrapping, "soap:Body has no wsu:Id, so the signature cannot cover the Body that is processed")
	case uri != "#"+id:
		return nil, fail(ReasonWrapping, "the signature's Reference %q does not point to the processed soap:Body (wsu:Id %q); only the Body is signed in this profile", uri, id)
	}
	if n := countID(env, id); n != 1 {
		return nil, fail(ReasonWrapping, "Id %q is carried by %d elements; it must be unique", id, n)
	}
	if n := countSOAPBodies(env); n != 1 {
		return nil, fail(ReasonWrapping, "the document holds %d soap:Body elements; only the one child of soap:Envelope may exist", n)
	}
	bodyPrefixes, err := transforms(ref)
	if err != nil {
		return nil, err
	}
	dm, err := only(ref, NSDS, "DigestMethod", ReasonMalformed)
	if err != nil {
		return nil, err
	}
	if a := dm.SelectAttrValue("Algorithm", ""); crypto && a != alg.DigestMethod() {
		return nil, fail(ReasonUnsupported, "digest %q does not go with signature algorithm %s (expected %s)", a, method, alg.DigestMethod())
	}
	dv, err := only(ref, NSDS, "DigestValue", ReasonMalformed)
	if err != nil {
		return nil, err
	}
	wantDigest, err := decode64(dv.Text())
	if err != nil {
		return nil, fail(ReasonMalformed, "DigestValue is not base64: %v", err)
	}
	bodyC14N, err := canonical(body, bodyPrefixes)
	if err != nil {
		return nil, fail(ReasonMalformed, "canonicalizing soap:Body: %v", err)
	}
	if crypto && subtle.ConstantTimeCompare(alg.Digest(bodyC14N), wantDigest) != 1 {
		return nil, fail(ReasonInvalid, "the digest of soap:Body does not match the signed one: the body was changed after signing")
	}
	cert, err := keyInfoCert(sig)
	if err != nil {
		return nil, err
	}
	sv, err := only(sig, NSDS, "SignatureValue", ReasonMalformed)
	if err != nil {
		return nil, err
	}
	value, err := decode64(sv.Text())
	if err != nil {
		return nil, fail(ReasonMalformed, "SignatureValue is not base64: %v", err)
	}
	if !crypto {
		return &Verified{Certificate: cert, SignatureMethod: method, BodyID: id}, nil
	}
	siC14N, err := canonical(si, inclusivePrefixes(cm))
	if err != nil {
		return nil, fail(ReasonMalformed, "canonicalizing SignedInfo: %v", err)
	}
	if err := alg.Verify(cert, siC14N, value); err != nil {
		return nil, fail(ReasonInvalid, "the signature value does not verify with the certificate of %q: SignedInfo was changed or signed with another key", cert.Subject.String())
	}
	return &Verified{Certificate: cert, SignatureMethod: method, BodyID: id, Digest: wantDigest}, nil
}

// transforms accepts exactly one exclusive C14N transform (the profile's)
// and returns its InclusiveNamespaces prefix list.
func transforms(ref *etree.Element) (string, error) {
	ts, err := only(ref, NSDS, "Transforms", ReasonMalformed)
	if err != nil {
		return "", err
	}
	t, err := only(ts, NSDS, "Transform", ReasonMalformed)
	if err != nil {
		return "", err
	}
	if a := t.SelectAttrValue("Algorithm", ""); a != ExcC14N {
		return "", fail(ReasonUnsupported, "Reference transform %q, only exclusive C14N (%s) is accepted", a, ExcC14N)
	}
	return inclusivePrefixes(t), nil
}

func inclusivePrefixes(el *etree.Element) string {
	for _, c := range children(el, ExcC14N, "InclusiveNamespaces") {
		return c.SelectAttrValue("PrefixList", "")
	}
	return ""
}

func keyInfoCert(sig *etree.Element) (*x509.Certificate, error) {
	ki, err := only(sig, NSDS, "KeyInfo", ReasonMalformed)
	if err != nil {
		return nil, err
	}
	str, err := only(ki, NSWSSE, "SecurityTokenReference", ReasonMalformed)
	if err != nil {
		return nil, err
	}
	kid, err := only(str, NSWSSE, "KeyIdentifier", ReasonMalformed)
	if err != nil {
		return nil, err
	}
	if vt := kid.SelectAttrValue("ValueType", ""); vt != ValueTypeX509v3 {
		return nil, fail(ReasonMalformed, "KeyIdentifier ValueType %q, expected X509v3 (%s)", vt, ValueTypeX509v3)
	}
	if et := kid.SelectAttrValue("EncodingType", EncodingBase64); et != EncodingBase64 {
		return nil, fail(ReasonMalformed, "KeyIdentifier EncodingType %q, expected Base64Binary", et)
	}
	der, err := decode64(kid.Text())
	if err != nil {
		return nil, fail(ReasonMalformed, "KeyIdentifier is not base64: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fail(ReasonMalformed, "KeyIdentifier does not hold an X.509 certificate: %v", err)
	}
	return cert, nil
}

// decode64 tolerates the line breaks (and the &#13; of Windows signers)
// that base64 in XML often carries.
func decode64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}

func parse(b []byte) (*etree.Document, *etree.Element, error) {
	doc := etree.NewDocument()
	// Keep duplicate attributes so a second wsu:Id cannot hide behind the
	// first one (countID sees both).
	doc.ReadSettings.PreserveDuplicateAttrs = true
	doc.ReadSettings.MaxDepth = 128
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, nil, fail(ReasonMalformed, "envelope is not well-formed XML: %v", err)
	}
	for _, t := range doc.Child {
		if _, ok := t.(*etree.Directive); ok {
			return nil, nil, fail(ReasonMalformed, "envelope has a DOCTYPE or other declaration")
		}
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != NSSOAP {
		return nil, nil, fail(ReasonMalformed, "root element is not a SOAP 1.1 Envelope")
	}
	return doc, env, nil
}

// parts returns the Envelope's Header (nil if absent) and Body, refusing
// any other shape.
func parts(env *etree.Element) (header, body *etree.Element, err error) {
	for _, c := range env.ChildElements() {
		switch {
		case c.NamespaceURI() != NSSOAP:
			return nil, nil, fail(ReasonMalformed, "unexpected element <%s> in soap:Envelope", c.FullTag())
		case c.Tag == "Header" && header == nil && body == nil:
			header = c
		case c.Tag == "Body" && body == nil:
			body = c
		case c.Tag == "Body":
			return nil, nil, fail(ReasonWrapping, "soap:Envelope holds a second Body: only one Body can be the one signed and processed")
		default:
			return nil, nil, fail(ReasonMalformed, "unexpected or repeated <%s> in soap:Envelope", c.FullTag())
		}
	}
	if body == nil {
		if countSOAPBodies(env) > 0 {
			return nil, nil, fail(ReasonWrapping, "soap:Body is not a child of soap:Envelope")
		}
		return nil, nil, fail(ReasonMalformed, "soap:Envelope has no Body")
	}
	return header, body, nil
}

func bodyID(body *etree.Element) string {
	for i := range body.Attr {
		a := &body.Attr[i]
		if a.Key == "Id" && a.Space != "" && a.NamespaceURI() == NSWSU {
			return a.Value
		}
	}
	return ""
}

// countID counts the elements under root that carry id in any attribute
// an XML-signature resolver might take for an Id.
func countID(root *etree.Element, id string) int {
	n := 0
	var walk func(*etree.Element)
	walk = func(el *etree.Element) {
		for _, a := range el.Attr {
			if (a.Key == "Id" || a.Key == "ID" || a.Key == "id") && a.Value == id {
				n++
			}
		}
		for _, c := range el.ChildElements() {
			walk(c)
		}
	}
	walk(root)
	return n
}

// countSOAPBodies counts soap:Body elements anywhere in the document: one
// hidden in the Header or in another element is the moved Body of a
// wrapping attack, whatever the Reference says.
func countSOAPBodies(root *etree.Element) int {
	n := 0
	var walk func(*etree.Element)
	walk = func(el *etree.Element) {
		if el.Tag == "Body" && el.NamespaceURI() == NSSOAP {
			n++
		}
		for _, c := range el.ChildElements() {
			walk(c)
		}
	}
	walk(root)
	return n
}

func children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

// only returns the one child ns:local of el; none is reported with reason
// none, several always as malformed.
func only(el *etree.Element, ns, local string, none Reason) (*etree.Element, error) {
	cs := children(el, ns, local)
	switch len(cs) {
	case 1:
		return cs[0], nil
	case 0:
		return nil, fail(none, "<%s> has no %s element", el.FullTag(), local)
	}
	return nil, fail(ReasonMalformed, "<%s> has %d %s elements, exactly one is allowed", el.FullTag(), len(cs), local)
}
