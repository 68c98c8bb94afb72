package safexml_test

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/contracts/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/internal/safexml"
)

// The fast path is held to encoding/xml: for every document and type it
// does not decline, it fills the same values and returns the same error.

type syncResponse struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		SendMessageResponse *struct {
			Response *struct {
				Info *shepsync.SyncMessageInfoResponse `xml:"responseInfo"`
				Data shep.DataSlot                     `xml:"responseData"`
			} `xml:"response"`
		} `xml:"http://bip.bee.kz/SyncChannel/v10/Types SendMessageResponse"`
		Fault *shep.Fault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type syncRequest struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		SendMessage *struct {
			Request *shep.SyncRequest `xml:"request"`
		} `xml:"http://bip.bee.kz/SyncChannel/v10/Types SendMessage"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type Kind string

type Named struct {
	XMLName xml.Name `xml:"urn:x named"`
	V       string   `xml:"v"`
}

type mixed struct {
	XMLName xml.Name
	S       string            `xml:"s"`
	K       Kind              `xml:"k"`
	I       int               `xml:"i"`
	I8      int8              `xml:"i8"`
	U       uint16            `xml:"u"`
	F       float64           `xml:"f"`
	B       bool              `xml:"b"`
	P       *string           `xml:"p"`
	L       []string          `xml:"l"`
	LP      []*mixed          `xml:"child"`
	T       time.Time         `xml:"t"`
	D       soap.XSDDate      `xml:"d"`
	DT      *soap.XSDDateTime `xml:"dt"`
	N       xml.Name          `xml:"n"`
	NS      string            `xml:"urn:x q"`
	Named   *Named
	Iface   any    `xml:"iface"`
	Other   string `xml:",any"`
	Skipped string `xml:"-"`
	hidden  string
}

type decl struct {
	name string
	make func() any
}

var types = []decl{
	{"response", func() any { return &syncResponse{} }},
	{"response+gbdfl", func() any {
		r := &syncResponse{}
		r.Body.SendMessageResponse = &struct {
			Response *struct {
				Info *shepsync.SyncMessageInfoResponse `xml:"responseInfo"`
				Data shep.DataSlot                     `xml:"responseData"`
			} `xml:"response"`
		}{Response: &struct {
			Info *shepsync.SyncMessageInfoResponse `xml:"responseInfo"`
			Data shep.DataSlot                     `xml:"responseData"`
		}{Data: shep.DataSlot{Data: &fltypes.Response{}}}}
		return r
	}},
	{"request+gbdfl", func() any {
		r := &syncRequest{}
		r.Body.SendMessage = &struct {
			Request *shep.SyncRequest `xml:"request"`
		}{Request: &shep.SyncRequest{Data: shep.DataSlot{Data: &fltypes.Request{}}}}
		return r
	}},
	{"gbdfl response", func() any { return &fltypes.Response{} }},
	{"mixed", func() any { s := "preset"; return &mixed{P: &s, Iface: &Named{}} }},
	{"mixed, nil iface", func() any { return &mixed{} }},
	{"recursive, pointer to pointer", func() any {
		return &struct {
			Next *mixed   `xml:"child"`
			PP   **string `xml:"s"`
		}{}
	}},
}

func seeds(t testing.TB) [][]byte {
	var docs [][]byte
	for _, glob := range []string{"testdata/*.xml", "../../contracts/egov-shep/shep/testdata/*.xml", "../../deploy/bench/shep-gbdfl.xml"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, b)
		}
	}
	if len(docs) < 5 {
		t.Fatalf("only %d seed documents", len(docs))
	}
	return append(docs, []byte(strings.Join([]string{
		`<?xml version="1.0"?>`,
		`<m xmlns:x="urn:x"><s>a &amp; b &#x41;&#66;</s><k>kind</k><i> 42 </i><i8>300</i8><u>7</u><f>1.5e3</f><b> true </b>`,
		`<p>ptr</p><l>one</l><l>two</l><child><s>c1</s><child><s>c2</s></child></child><t>2026-11-30T05:00:00Z</t>`,
		`<d>2026-11-30</d><dt>2026-11-30T05:00:00.123+05:00</dt><n>ignored<x/></n><x:q>qualified</x:q><q>unqualified</q>`,
		`<named xmlns="urn:x"><v>in x</v></named><Named><v>by field</v></Named><iface><v>into</v></iface><unknown>any</unknown>`,
		`<s>again<!-- joined -->and</s><empty/><i></i></m>`,
	}, "")), []byte(`<m><i>x</i></m>`), []byte(`<m><named xmlns="urn:y"><v>wrong ns</v></named></m>`),
		[]byte(`<m><d>not a date</d></m>`), []byte(`<m><d>2026-11-30</d><dt>2026-11-30</dt></m>`), []byte(`<m><d>2026-11-30Z</d><dt>2026-11-30Z</dt></m>`), []byte(`<m><d>2026-11-30+05:00</d><dt>2026-11-30+05:00</dt></m>`), []byte(`<m><d>2026-11-30-03:00</d><dt>2026-11-30-03:00</dt></m>`), []byte(`<m><d>1988-05-01T00:00:00</d><dt>1988-05-01T00:00:00</dt></m>`), []byte(`<m><d>0001-01-01T00:00:00</d><dt>0001-01-01T00:00:00</dt></m>`), []byte(`<m><d>2026-11-30T05:40:04.225Z</d><dt>2026-11-30T05:40:04.225Z</dt></m>`), []byte(`<m><d>2026-11-30T05:40:04+06:00</d><dt>2026-11-30T05:40:04+06:00</dt></m>`), []byte(`<m><d>2026-11-30T05:40:04.123456789-01:30</d><dt>2026-11-30T05:40:04.123456789-01:30</dt></m>`), []byte(`<m><d>2026-11-30T25:00:00Z</d><dt>2026-11-30T25:00:00Z</dt></m>`), []byte(`<m><d>x</d><dt>x</dt></m>`), []byte(`<m><d></d><dt></dt></m>`), []byte(`<m><d>T</d><dt>T</dt></m>`), []byte(`<m><d>2026-11-30TZ</d><dt>2026-11-30TZ</dt></m>`), []byte(`<m><d> 2026-11-30 </d><dt> 2026-11-30 </dt></m>`), []byte(`<m><d>2026-11-30:</d><dt>2026-11-30:</dt></m>`), []byte(`<!-- a -- b --><m><s>x</s></m>`), []byte(`<m><s>x<!-- y ---></s></m>`), []byte(`<m><b>maybe</b></m>`), []byte(`<a:m xmlns:a="urn:a"><a:s>p</a:s><s xmlns="urn:b">d</s></a:m>`))
}

func check(t *testing.T, doc []byte) {
	t.Helper()
	if safexml.Check(strings.NewReader(string(doc)), safexml.Limits{}) != nil {
		return // refused before either would decode
	}
	for _, d := range types {
		fast, std := d.make(), d.make()
		declined, ferr := safexml.FastDecode(doc, fast)
		if declined {
			if !reflect.DeepEqual(fast, d.make()) {
				t.Fatalf("%s: declined after changing the value", d.name)
			}
			continue
		}
		serr := xml.Unmarshal(doc, std)
		if (ferr == nil) != (serr == nil) || ferr != nil && ferr.Error() != serr.Error() {
			t.Fatalf("%s: %q\n fast error %v\n encoding/xml %v", d.name, doc, ferr, serr)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("%s: %q\n fast %+v\n encoding/xml %+v", d.name, doc, fast, std)
		}
	}
}

func TestFastMatchesEncodingXML(t *testing.T) {
	for _, doc := range seeds(t) {
		check(t, doc)
	}
}

// The documents the bus decodes on every sync call take the fast path.
func TestFastPathTakesSHEPEnvelopes(t *testing.T) {
	for _, f := range []string{"testdata/shep_sync_gbdfl_response.xml", "../../deploy/bench/shep-gbdfl.xml"} {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range types[:3] {
			if declined, _ := safexml.FastDecode(doc, d.make()); declined {
				t.Errorf("%s as %s: declined", f, d.name)
			}
		}
	}
}

func FuzzFastMatchesEncodingXML(f *testing.F) {
	for _, doc := range seeds(f) {
		f.Add(doc)
	}
	f.Fuzz(check)
}

// Decoding from many goroutines at once, the first of them while the
// type plans are being built, gives what encoding/xml gives.
func TestFastConcurrent(t *testing.T) {
	doc, err := os.ReadFile("testdata/shep_sync_gbdfl_response.xml")
	if err != nil {
		t.Fatal(err)
	}
	want := types[1].make()
	if err := xml.Unmarshal(doc, want); err != nil {
		t.Fatal(err)
	}
	errs := make(chan string, 16)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				got := types[1].make()
				if err := safexml.Decode(doc, got, safexml.Limits{}); err != nil || !reflect.DeepEqual(got, want) {
					errs <- fmt.Sprintf("err %v, got %+v", err, got)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
