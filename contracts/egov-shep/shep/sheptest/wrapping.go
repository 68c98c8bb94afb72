// Package sheptest builds hostile SHEP envelopes for tests: the XML
// signature wrapping forms that the contract's frame check, the signature
// verifier and the inbound channel must each refuse. It is shared so that
// every layer is tried with the same forms.
package sheptest

import (
	"regexp"
	"strings"
)

// What a wrapping form must be refused for.
const (
	Structure     = "structure"      // shep.FrameStructure
	DuplicateID   = "duplicate-id"   // shep.FrameDuplicateID
	DisplacedBody = "displaced-body" // shep.FrameDisplacedBody
	Wrapping      = "wrapping"       // xmlsig.ReasonWrapping
)

// Form is one hostile envelope.
type Form struct {
	Name     string
	Envelope []byte
	Want     string // Structure, DuplicateID, DisplacedBody or Wrapping
}

var (
	bodyRe = regexp.MustCompile(`(?s)<soap:Body[^>]*>(.*)</soap:Body>`)
	idRe   = regexp.MustCompile(`wsu:Id="([^"]*)"`)
)

// envelope is a signed or unsigned envelope taken apart as the forms need.
type envelope struct {
	s                  string
	bodyStart, bodyEnd int // the whole soap:Body element
	opStart, opEnd     int // its content, the operation
}

func parse(b []byte) envelope {
	s := string(b)
	m := bodyRe.FindStringSubmatchIndex(s)
	if m == nil {
		panic("sheptest: no soap:Body in the envelope (the forms expect the soap: prefix the shep package writes)")
	}
	return envelope{s: s, bodyStart: m[0], bodyEnd: m[1], opStart: m[2], opEnd: m[3]}
}

func (e envelope) body() string { return e.s[e.bodyStart:e.bodyEnd] }
func (e envelope) op() string   { return e.s[e.opStart:e.opEnd] }

// withBody replaces the whole soap:Body element.
func (e envelope) withBody(b string) string { return e.s[:e.bodyStart] + b + e.s[e.bodyEnd:] }

// intoHeader puts x at the end of soap:Header (which a signed envelope has).
func intoHeader(s, x string) string {
	if strings.Contains(s, "<soap:Header/>") {
		return strings.Replace(s, "<soap:Header/>", "<soap:Header>"+x+"</soap:Header>", 1)
	}
	return strings.Replace(s, "</soap:Header>", x+"</soap:Header>", 1)
}

func bodyID(s string) string {
	if m := idRe.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// WrappingForms returns the wrapping forms of one operation. valid and
// invalid are unsigned envelopes of that operation, the second one valid
// in shape but not against the schema; sign signs an envelope the way the
// gateway does (a trusted key: the attacker is a legitimate participant).
// Each form, if a reader other than the frame check took it apart, would
// make the element signed, the element validated and the element processed
// differ.
func WrappingForms(valid, invalid []byte, sign func([]byte) []byte) []Form {
	good := parse(sign(valid))
	bad := parse(sign(invalid))
	evil := parse(invalid).op()
	decoy := parse(valid).op()
	id := bodyID(good.body())
	goodBody := good.body()
	stripped := strings.Replace(goodBody, ` wsu:Id="`+id+`"`, "", 1)

	out := []Form{
		// The reported case: the signed Body is schema-invalid, a valid
		// operation of the same name waits in the unsigned Header.
		{"valid decoy operation in the Header", []byte(intoHeader(bad.s, decoy)), Structure},
		{"decoy operation wrapped in a Header element", []byte(intoHeader(bad.s, `<x:Wrapper xmlns:x="urn:attacker">`+decoy+`</x:Wrapper>`)), Structure},
		{"signed Body moved into the Header, another Body processed", []byte(intoHeader(good.withBody(`<soap:Body>`+evil+`</soap:Body>`), `<x:Wrapper xmlns:x="urn:attacker">`+goodBody+`</x:Wrapper>`)), DisplacedBody},
		{"signed Body copied into the Header", []byte(intoHeader(good.s, goodBody)), DisplacedBody},
		{"second Body after the signed one", []byte(good.withBody(goodBody + `<soap:Body>` + evil + `</soap:Body>`)), Structure},
		{"second Body before the signed one", []byte(good.withBody(`<soap:Body>` + evil + `</soap:Body>` + goodBody)), Structure},
		{"signed Body not a child of the Envelope", []byte(good.withBody(`<soap:Body>` + evil + `</soap:Body><x:Wrapper xmlns:x="urn:attacker">` + goodBody + `</x:Wrapper>`)), Structure},
		{"signed Body inside the processed one", []byte(good.withBody(`<soap:Body>` + evil + goodBody + `</soap:Body>`)), DisplacedBody},
		{"Body holds a second operation", []byte(good.withBody(strings.Replace(goodBody, "</soap:Body>", evil+"</soap:Body>", 1))), Structure},
		{"text beside the operation", []byte(good.withBody(strings.Replace(goodBody, "</soap:Body>", "evil</soap:Body>", 1))), Structure},
		{"Body under an undeclared prefix", []byte(good.withBody(strings.Replace(strings.Replace(goodBody, "<soap:Body", "<s2:Body", 1), "</soap:Body>", "</s2:Body>", 1))), Structure},
		{"Body's prefix redeclared to another namespace", []byte(good.withBody(strings.Replace(goodBody, "<soap:Body", `<soap:Body xmlns:soap="urn:attacker"`, 1))), Structure},
		{"element beside Header and Body", []byte(good.withBody(goodBody + `<x:Extra xmlns:x="urn:attacker"/>`)), Structure},
		{"Body's Id carried by a Header element", []byte(intoHeader(good.s, `<x:Copy xmlns:x="urn:attacker" xmlns:wsu="`+nsWSU+`" wsu:Id="`+id+`"/>`)), DuplicateID},
		{"Body's Id carried as a plain Id", []byte(intoHeader(good.s, `<x:Copy xmlns:x="urn:attacker" Id="`+id+`"/>`)), DuplicateID},
		{"one Id on two Header elements", []byte(intoHeader(good.s, `<x:A xmlns:x="urn:attacker" ID="twice"/><x:B xmlns:x="urn:attacker" ID="twice"/>`)), DuplicateID},
		{"Body with two Id attributes", []byte(good.withBody(strings.Replace(goodBody, ` wsu:Id="`, ` Id="other" wsu:Id="`, 1))), DuplicateID},
		{"Reference to another Id", []byte(strings.Replace(good.s, `URI="#`+id+`"`, `URI="#elsewhere"`, 1)), Wrapping},
		{"Reference to the whole document", []byte(strings.Replace(good.s, `URI="#`+id+`"`, `URI=""`, 1)), Wrapping},
		{"Body stripped of the signed Id", []byte(good.withBody(stripped)), Wrapping},
		{"Body given another Id", []byte(good.withBody(strings.Replace(goodBody, `wsu:Id="`+id+`"`, `wsu:Id="id-attacker"`, 1))), Wrapping},
	}
	// Header after the Body: cut out, put back before </soap:Envelope>.
	if i, j := strings.Index(good.s, "<soap:Header"), strings.Index(good.s, "</soap:Header>"); i >= 0 && j > i {
		header := good.s[i : j+len("</soap:Header>")]
		moved := strings.Replace(good.s[:i]+good.s[j+len("</soap:Header>"):], "</soap:Envelope>", header+"</soap:Envelope>", 1)
		out = append(out, Form{"Header after the Body", []byte(moved), Structure})
	}
	return out
}

const nsWSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
