package xsd

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

const contracts = "../../contracts/iso20022/xsd"

func compileT(t testing.TB, name string) *Schema {
	t.Helper()
	s, err := Compile(filepath.Join(contracts, name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../../shared/samples", name))
	if err != nil {
		t.Skipf("shared sample not available: %v", err)
	}
	return b
}

const pacs002NS = "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"

// A pacs.002 small enough to read in the assertions.
const validPacs002 = `<?xml version="1.0"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10">
  <FIToFIPmtStsRpt>
    <GrpHdr>
      <MsgId>STS1</MsgId>
      <CreDtTm>2025-03-10T09:00:02</CreDtTm>
    </GrpHdr>
    <TxInfAndSts>
      <OrgnlEndToEndId>E2E1</OrgnlEndToEndId>
      <TxSts>ACSC</TxSts>
    </TxInfAndSts>
  </FIToFIPmtStsRpt>
</Document>`

func TestValidDocumentHasNoViolations(t *testing.T) {
	s := compileT(t, "pacs.002.001.10.xsd")
	if vs := s.Validate([]byte(validPacs002)); vs != nil {
		t.Fatalf("valid pacs.002 refused: %v", vs)
	}
}

func TestPublishedSampleValidates(t *testing.T) {
	// The Fedwire sample carries xsi:schemaLocation naming a file that does
	// not exist here: the compiled schema must be used, not that hint.
	s := compileT(t, "pacs.008.001.08.xsd")
	if vs := s.Validate(readSample(t, "iso20022_pacs008_001_08_fedwire_sample.xml")); vs != nil {
		t.Fatalf("published pacs.008.001.08 sample refused: %v", vs)
	}
}

func TestViolationNamesLinePathAndReason(t *testing.T) {
	s := compileT(t, "pacs.002.001.10.xsd")
	doc := strings.Replace(validPacs002, "<TxSts>ACSC</TxSts>", "<TxSts>TOOLONG</TxSts>", 1)
	vs := s.Validate([]byte(doc))
	if len(vs) != 1 {
		t.Fatalf("want one violation, got %v", vs)
	}
	v := vs[0]
	if v.Line != 10 {
		t.Errorf("line = %d, want 10", v.Line)
	}
	if v.Path != "/Document/FIToFIPmtStsRpt/TxInfAndSts/TxSts" {
		t.Errorf("path = %q", v.Path)
	}
	if !strings.Contains(v.Message, "length") && !strings.Contains(v.Message, "TOOLONG") {
		t.Errorf("message does not say why: %q", v.Message)
	}
	if err := Err(vs); err == nil || !strings.Contains(err.Error(), "TxSts") {
		t.Errorf("Err = %v", err)
	}
}

func TestMissingRequiredElement(t *testing.T) {
	s := compileT(t, "pacs.002.001.10.xsd")
	doc := strings.Replace(validPacs002, "<MsgId>STS1</MsgId>", "", 1)
	vs := s.Validate([]byte(doc))
	if len(vs) == 0 || !strings.Contains(vs[0].Message, "MsgId") {
		t.Fatalf("missing MsgId not reported: %v", vs)
	}
}

func TestWrongNamespaceIsInvalid(t *testing.T) {
	s := compileT(t, "pacs.002.001.10.xsd")
	doc := strings.Replace(validPacs002, "pacs.002.001.10", "pacs.002.001.12", 1)
	if vs := s.Validate([]byte(doc)); len(vs) == 0 {
		t.Fatal("document in another message version accepted")
	}
}

func TestNotWellFormed(t *testing.T) {
	s := compileT(t, "pacs.002.001.10.xsd")
	vs := s.Validate([]byte("<Document xmlns=\"" + pacs002NS + "\">\n<FIToFIPmtStsRpt>\n</Document>"))
	if len(vs) == 0 || vs[0].Line != 3 {
		t.Fatalf("want a parser error at line 3, got %v", vs)
	}
	if vs := s.Validate(nil); len(vs) != 1 {
		t.Fatalf("empty document: %v", vs)
	}
}

func TestDoctypeRefused(t *testing.T) {
	s := compileT(t, "pacs.002.001.10.xsd")
	doc := `<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>` + validPacs002[strings.Index(validPacs002, "<Document"):]
	vs := s.Validate([]byte(doc))
	if len(vs) != 1 || !strings.Contains(vs[0].Message, "DOCTYPE") || vs[0].Line != 2 {
		t.Fatalf("DOCTYPE not refused: %v", vs)
	}
}

func TestPartsInsideAnEnvelope(t *testing.T) {
	head := compileT(t, "head.001.001.02.xsd")
	pacs := compileT(t, "pacs.002.001.10.xsd")
	env := `<Envelope xmlns="urn:example:transport">
<AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02">
  <Fr><FIId><FinInstnId><BICFI>NBRKKZKXXXX</BICFI></FinInstnId></FIId></Fr>
  <To><FIId><FinInstnId><BICFI>KKMFKZ2AXXX</BICFI></FinInstnId></FIId></To>
  <BizMsgIdr>STS1</BizMsgIdr>
  <MsgDefIdr>pacs.002.001.10</MsgDefIdr>
  <CreDt>2025-03-10T09:00:02Z</CreDt>
</AppHdr>
` + validPacs002[strings.Index(validPacs002, "<Document"):] + `
</Envelope>`
	parts := []Part{
		{Schema: head, Space: "urn:iso:std:iso:20022:tech:xsd:head.001.001.02", Local: "AppHdr"},
		{Schema: pacs, Space: pacs002NS, Local: "Document"},
	}
	if vs := ValidateParts([]byte(env), parts...); vs != nil {
		t.Fatalf("valid envelope refused: %v", vs)
	}
	bad := strings.Replace(env, "<BICFI>NBRKKZKXXXX</BICFI>", "<BICFI>nbrk</BICFI>", 1)
	vs := ValidateParts([]byte(bad), parts...)
	if len(vs) != 1 || vs[0].Line != 3 || !strings.HasSuffix(vs[0].Path, "/AppHdr/Fr/FIId/FinInstnId/BICFI") {
		t.Fatalf("bad header BIC: %v", vs)
	}
	noDoc := strings.Replace(env, "<Document", "<Other", 1)
	noDoc = strings.Replace(noDoc, "</Document>", "</Other>", 1)
	if vs := ValidateParts([]byte(noDoc), parts...); len(vs) != 1 || !strings.Contains(vs[0].Message, "not found") {
		t.Fatalf("missing Document part: %v", vs)
	}
}

func TestCompileBytesResolvesIncludesFromBaseDir(t *testing.T) {
	dir := t.TempDir()
	inc := `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns="urn:t" elementFormDefault="qualified">
  <xs:simpleType name="Code"><xs:restriction base="xs:string"><xs:pattern value="[A-Z]{3}"/></xs:restriction></xs:simpleType>
</xs:schema>`
	if err := os.WriteFile(filepath.Join(dir, "inc.xsd"), []byte(inc), 0o644); err != nil {
		t.Fatal(err)
	}
	main := `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns="urn:t" elementFormDefault="qualified">
  <xs:include schemaLocation="inc.xsd"/>
  <xs:element name="C" type="Code"/>
</xs:schema>`
	s, err := CompileBytes([]byte(main), dir, "main.xsd")
	if err != nil {
		t.Fatal(err)
	}
	if vs := s.Validate([]byte(`<C xmlns="urn:t">ABC</C>`)); vs != nil {
		t.Fatal(vs)
	}
	if vs := s.Validate([]byte(`<C xmlns="urn:t">abcd</C>`)); len(vs) != 1 || vs[0].Path != "/C" {
		t.Fatalf("pattern from the included schema not applied: %v", vs)
	}
	if _, err := CompileBytes([]byte(main), t.TempDir(), "main.xsd"); err == nil {
		t.Fatal("include resolved without the file next to the base dir")
	}
}

func TestSchemaImportNeverFetchedOverNetwork(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:r"><xs:element name="R" type="xs:string"/></xs:schema>`))
	}))
	defer srv.Close()
	main := fmt.Sprintf(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns:r="urn:r">
  <xs:import namespace="urn:r" schemaLocation="%s/r.xsd"/>
  <xs:element name="C"><xs:complexType><xs:sequence><xs:element ref="r:R"/></xs:sequence></xs:complexType></xs:element>
</xs:schema>`, srv.URL)
	_, err := CompileBytes([]byte(main), "", "net.xsd")
	if hits.Load() != 0 {
		t.Fatalf("schema import fetched over HTTP %d times", hits.Load())
	}
	if err == nil {
		t.Fatal("schema referring to an unreachable import compiled")
	}
}

func TestCompileErrorsAreReported(t *testing.T) {
	_, err := CompileBytes([]byte(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="A" type="Nope"/></xs:schema>`), "", "bad.xsd")
	if err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Compile("does-not-exist.xsd"); err == nil {
		t.Fatal("missing file compiled")
	}
}

// One compiled schema, many goroutines, valid and invalid documents mixed:
// each must get exactly its own verdict (run with -race).
func TestConcurrentValidation(t *testing.T) {
	s := compileT(t, "pacs.002.001.10.xsd")
	bad := []byte(strings.Replace(validPacs002, "ACSC", "NOPE1", 1))
	good := []byte(validPacs002)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if (g+i)%2 == 0 {
					if vs := s.Validate(good); vs != nil {
						errs <- fmt.Sprint("good refused: ", vs)
						return
					}
				} else if vs := s.Validate(bad); len(vs) != 1 || !strings.Contains(vs[0].Path, "TxSts") {
					errs <- fmt.Sprint("bad doc: ", vs)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestErrorCapIsReported(t *testing.T) {
	s := compileT(t, "pacs.002.001.10.xsd")
	var b bytes.Buffer
	b.WriteString(`<Document xmlns="` + pacs002NS + `"><FIToFIPmtStsRpt><GrpHdr><MsgId>M</MsgId><CreDtTm>2025-03-10T09:00:02</CreDtTm></GrpHdr>`)
	for range 80 {
		b.WriteString(`<TxInfAndSts><TxSts>BADBAD</TxSts></TxInfAndSts>`)
	}
	b.WriteString(`</FIToFIPmtStsRpt></Document>`)
	vs := s.Validate(b.Bytes())
	if len(vs) != 51 || !strings.Contains(vs[50].Message, "more errors") {
		t.Fatalf("got %d violations, last %v", len(vs), vs[len(vs)-1])
	}
}

func BenchmarkValidatePacs002(b *testing.B) {
	s := compileT(b, "pacs.002.001.10.xsd")
	doc := []byte(validPacs002)
	b.ReportAllocs()
	for b.Loop() {
		if vs := s.Validate(doc); vs != nil {
			b.Fatal(vs)
		}
	}
}

// A Lazy schema is compiled once, on first use: the same schema every
// time, a document checked against it, and a broken source's error
// returned to every caller.
func TestLazySchema(t *testing.T) {
	l := &Lazy{Source: []byte(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="A" type="xs:int"/></xs:schema>`), Name: "a.xsd"}
	s1, err1 := l.Schema()
	s2, err2 := l.Schema()
	if err1 != nil || err2 != nil || s1 != s2 {
		t.Fatalf("%p %v, %p %v", s1, err1, s2, err2)
	}
	if err := l.Validate([]byte(`<A>12</A>`)); err != nil {
		t.Fatalf("valid: %v", err)
	}
	var xe *Error
	if err := l.Validate([]byte(`<A>twelve</A>`)); !errors.As(err, &xe) {
		t.Fatalf("invalid: %v", err)
	}
	broken := &Lazy{Source: []byte(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="A" type="Nope"/></xs:schema>`), Name: "bad.xsd"}
	for range 2 {
		if err := broken.Validate([]byte(`<A/>`)); err == nil || !strings.Contains(err.Error(), "Nope") {
			t.Fatalf("broken: %v", err)
		}
	}
}
