package shep_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep/sheptest"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepasync"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
)

var (
	signerOnce sync.Once
	signer     xmlsig.Signer
	signerErr  error
)

// sign signs with one throw-away certificate: the attacker of the
// wrapping forms holds a valid key, so only the structure can betray it.
func sign(t testing.TB) func([]byte) []byte {
	signerOnce.Do(func() {
		now := time.Now()
		ca, err := testpki.NewCA("Frame test CA", now.Add(-time.Hour), now.AddDate(1, 0, 0))
		if err != nil {
			signerErr = err
			return
		}
		signer, _, signerErr = ca.Signer(testpki.Leaf{CommonName: "participant", SerialNumber: "BIN000740000728", NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0)})
	})
	if signerErr != nil {
		t.Fatal(signerErr)
	}
	return func(env []byte) []byte {
		b, err := xmlsig.Sign(env, signer)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// operation is one inbound operation with a valid envelope and one that
// is well-formed but against the schema.
type operation struct {
	name           string
	valid, invalid []byte
	pick           func(xml.Name) any
}

func operations(t testing.TB) []operation {
	sync, err := shep.MarshalSendMessage(&shep.Request{
		Info: shep.NewInfo("m-1", "", "MINFIN_TaxDebt", "demo-agency", "demo-secret", time.Now()),
		Data: shep.Payload{Value: &shep.AnyXML{InnerXML: "<bin>000740000728</bin>"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	async, err := shep.MarshalAsyncSendMessage(shep.NSAsyncClient, &shep.AsyncMessage{Info: shepasync.AsyncMessageInfo{
		MessageId: "m-2", ServiceId: "MINFIN_PaymentNotify", MessageType: shep.TypeRequest, MessageDate: soap.CreateXsdDateTime(time.Now(), true),
		Sender: &shepasync.SenderInfo{SenderId: "demo-agency", Password: "demo-secret"},
	}, Data: shep.Payload{Value: &shep.AnyXML{InnerXML: "<payment/>"}}})
	if err != nil {
		t.Fatal(err)
	}
	return []operation{
		{"SendMessage", sync, bytes.Replace(sync, []byte("</serviceId>"), []byte("</serviceId><priority>1</priority>"), 1),
			func(n xml.Name) any { return new(shep.OpRequest[shep.SyncRequest]) }},
		{"sendMessage", async, bytes.Replace(async, []byte("</messageType>"), []byte("</messageType><urgent/>"), 1),
			func(n xml.Name) any { return new(shep.OpRequest[shep.InboundSendMessage]) }},
	}
}

// Every XML signature wrapping form is refused by the frame check or,
// where the frame is sound, by the verifier; the genuine envelope passes
// all three readers, and they agree on the Body.
func TestWrappingFormsAreRefused(t *testing.T) {
	sc, err := shep.LoadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range operations(t) {
		t.Run(op.name, func(t *testing.T) {
			signed := sign(t)(op.valid)
			f, err := shep.ParseInbound(signed, shep.Limits, op.pick)
			if err != nil {
				t.Fatal(err)
			}
			if err := sc.Validate(f, signed); err != nil {
				t.Fatal(err)
			}
			v, err := xmlsig.Verify(signed)
			if err != nil || !f.Signed || v.BodyID != f.BodyID || f.Op.Local != op.name {
				t.Fatalf("%v %+v %+v", err, f, v)
			}
			for _, form := range sheptest.WrappingForms(op.valid, op.invalid, sign(t)) {
				t.Run(form.Name, func(t *testing.T) {
					if got := refusal(form.Envelope, op.pick); got != form.Want {
						t.Fatalf("refused for %q, want %q\n%s", got, form.Want, form.Envelope)
					}
				})
			}
		})
	}
}

// refusal is what stops an envelope: a frame reason, "wrapping" from the
// verifier, or "" when it passes.
func refusal(env []byte, pick func(xml.Name) any) string {
	f, err := shep.ParseInbound(env, shep.Limits, pick)
	var fe *shep.FrameError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	if err != nil {
		return "parse: " + err.Error()
	}
	v, err := xmlsig.Verify(env)
	var se *xmlsig.Error
	switch {
	case errors.As(err, &se) && se.Reason == xmlsig.ReasonWrapping:
		return sheptest.Wrapping
	case err != nil:
		return "verify: " + err.Error()
	case v.BodyID != f.BodyID:
		return sheptest.Wrapping
	}
	return ""
}

// The schema check itself looks at the Body's element by position: even
// handed a frame without the structural refusal, a schema-invalid Body is
// not excused by a valid decoy of the same name earlier in the document.
func TestSchemaValidatesTheBodyNotADecoy(t *testing.T) {
	sc, err := shep.LoadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range operations(t) {
		f, err := shep.ReadFrame(op.invalid)
		if err != nil {
			t.Fatal(err)
		}
		decoy := op.valid[bytes.Index(op.valid, []byte("<ns2:")):bytes.Index(op.valid, []byte("</soap:Body>"))]
		env := bytes.Replace(op.invalid, []byte("<soap:Header/>"), append(append([]byte("<soap:Header>"), decoy...), "</soap:Header>"...), 1)
		if !bytes.Contains(env, decoy) {
			t.Fatal("decoy not placed")
		}
		if err := sc.Validate(f, env); err == nil {
			t.Errorf("%s: a schema-invalid Body passed behind a valid decoy in the Header", op.name)
		}
		if err := sc.Validate(f, op.valid); err != nil {
			t.Errorf("%s: %v", op.name, err)
		}
	}
}

// Shapes that are not attacks but are refused all the same, and ordinary
// envelopes that must pass.
func TestFrameShapes(t *testing.T) {
	const env = `<soap:Envelope xmlns:soap="` + shep.NSSOAP + `">`
	for name, c := range map[string]struct {
		doc  string
		want string
	}{
		"no header":             {env + `<soap:Body><t:Op xmlns:t="urn:t"/></soap:Body></soap:Envelope>`, ""},
		"comments and spaces":   {env + "\n <!-- c --> <soap:Header/>\n <soap:Body>\n <t:Op xmlns:t=\"urn:t\"/>\n </soap:Body>\n</soap:Envelope>", ""},
		"repeated id in data":   {env + `<soap:Body><t:Op xmlns:t="urn:t"><a id="1"/><b id="1"/></t:Op></soap:Body></soap:Envelope>`, shep.FrameDuplicateID},
		"empty body":            {env + `<soap:Body/></soap:Envelope>`, shep.FrameStructure},
		"no body":               {env + `<soap:Header/></soap:Envelope>`, shep.FrameStructure},
		"two headers":           {env + `<soap:Header/><soap:Header/><soap:Body><t:Op xmlns:t="urn:t"/></soap:Body></soap:Envelope>`, shep.FrameStructure},
		"other root":            {`<t:Op xmlns:t="urn:t"/>`, shep.FrameStructure},
		"envelope in data":      {env + `<soap:Body><t:Op xmlns:t="urn:t"><soap:Envelope/></t:Op></soap:Body></soap:Envelope>`, shep.FrameStructure},
		"undeclared attribute":  {env + `<soap:Body p:x="1"><t:Op xmlns:t="urn:t"/></soap:Body></soap:Envelope>`, shep.FrameStructure},
		"repeated attribute":    {env + `<soap:Body><t:Op xmlns:t="urn:t" a="1" a="2"/></soap:Body></soap:Envelope>`, shep.FrameStructure},
		"prefix undeclared":     {env + `<soap:Body><t:Op xmlns:t=""/></soap:Body></soap:Envelope>`, shep.FrameStructure},
		"text in envelope":      {env + `evil<soap:Body><t:Op xmlns:t="urn:t"/></soap:Body></soap:Envelope>`, shep.FrameStructure},
		"fault is an operation": {env + `<soap:Body><soap:Fault><faultcode>x</faultcode></soap:Fault></soap:Body></soap:Envelope>`, ""},
	} {
		f, err := shep.ReadFrame([]byte(c.doc))
		var fe *shep.FrameError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.want == "" && f.Op.Local == "":
			t.Errorf("%s: no operation read", name)
		case c.want != "" && (!errors.As(err, &fe) || fe.Reason != c.want):
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
	}
}

// FuzzInboundFrame looks for an envelope the readers disagree on: whatever
// the frame check admits, the decoder reads the same operation (ParseInbound
// refuses otherwise) and, when the signature verifies, the verifier's Body
// is the frame's Body.
func FuzzInboundFrame(f *testing.F) {
	for _, op := range operations(f) {
		f.Add(sign(f)(op.valid))
		for _, form := range sheptest.WrappingForms(op.valid, op.invalid, sign(f)) {
			f.Add(form.Envelope)
		}
	}
	for _, name := range []string{"shep_sync_sendmessage_gbdfl_request.xml", "shep_sync_sendmessage_gbdfl_request_signed_rsa.xml", "shep_async_sendmessage_request.xml"} {
		f.Add(readFile(f, name))
	}
	pick := func(xml.Name) any { return new(shep.OpRequest[shep.InboundSendMessage]) }
	f.Fuzz(func(t *testing.T, env []byte) {
		fr, err := shep.ParseInbound(env, shep.Limits, pick)
		if err != nil {
			return
		}
		if fr.Op.Local == "" {
			t.Fatal("a frame without an operation was admitted")
		}
		if v, err := xmlsig.Verify(env); err == nil && v.BodyID != fr.BodyID {
			t.Fatalf("the verifier's Body (Id %q) is not the frame's (Id %q)", v.BodyID, fr.BodyID)
		}
	})
}
