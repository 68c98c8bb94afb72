package gbdfl_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/gbdfl"
	"github.com/minfin-kz/kopir/mocks/internal/mocktest"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

func TestSHEPHappyPath(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	status, body := mocktest.Do(t, "POST", srv.URL+"/shep/sync", mocktest.Envelope(t, "kopir", "kopir-secret", gbdfl.ServiceID, "931002451325"))
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var r fltypes.Response
	info, err := shep.ParseResponse(body, &r)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status.Code != "SCSS001" || info.CorrelationId != "7c9e6679-7425-40de-944b-e07fc1f90ae7" || len(info.MessageId) != 36 ||
		info.SessionId == nil || !strings.HasPrefix(string(*info.SessionId), "{") || info.ResponseDate.ToGoTime().IsZero() {
		t.Fatalf("%+v", info)
	}
	if r.MessageResult.Code != "00000" || r.RequestId != "7c9e6679-7425-40de-944b-e07fc1f90ae7" || r.Sender.Code != "GBDFL" || len(r.Persons.Person) != 1 {
		t.Fatalf("%+v", r)
	}
	p := r.Persons.Person[0]
	bd := p.BirthDate.ToGoTime()
	if p.Iin != "931002451325" || bd.Year() != 1993 || bd.Month() != 10 || bd.Day() != 2 || p.Gender.Code != "2" || p.Surname == "" || p.BirthPlace == nil {
		t.Fatalf("%+v", p)
	}
	// Namespace-resolved, the response is the WSDL's element with
	// unqualified children, and data is typed as GBD FL's Response.
	d := xml.NewDecoder(bytes.NewReader(body))
	seen := map[string]bool{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		seen[se.Name.Local] = true
		want := ""
		if se.Name.Local == "SendMessageResponse" {
			want = shep.NSTypes
		} else if se.Name.Local == "Envelope" || se.Name.Local == "Body" {
			want = shep.NSSOAP
		}
		if se.Name.Space != want {
			t.Errorf("<%s> in %q, want %q", se.Name.Local, se.Name.Space, want)
		}
		if se.Name.Local == "data" {
			var typ, ns string
			for _, a := range se.Attr {
				switch {
				case a.Name.Space == shep.NSXSI && a.Name.Local == "type":
					typ = a.Value
				case a.Name.Space == "xmlns" && a.Name.Local == "ns3":
					ns = a.Value
				}
			}
			if typ != "ns3:Response" || ns != "http://message.persistence.interactive.nat" {
				t.Errorf("data xsi:type %q ns3=%q", typ, ns)
			}
		}
	}
	if !seen["SendMessageResponse"] || !seen["data"] || !seen["person"] {
		t.Fatalf("%v", seen)
	}
}

func TestSHEPSampleRequest(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{}, shepgw.Options{Senders: map[string]string{"smartbridge": "123"}}))
	defer srv.Close()
	sample, err := os.ReadFile("testdata/shep_sync_sendmessage_gbdfl_request.xml")
	if err != nil {
		t.Fatal(err)
	}
	status, body := mocktest.Do(t, "POST", srv.URL+"/shep/sync", sample)
	var r fltypes.Response
	if _, err := shep.ParseResponse(body, &r); status != 200 || err != nil {
		t.Fatalf("%d %v %s", status, err, body)
	}
	if r.RequestId != "1" || r.Receiver.Code != "smartbridge" || r.Persons.Person[0].Iin != "931002451325" {
		t.Fatalf("%+v", r)
	}
}

func TestNotFoundIIN(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{}, gbdfl.Options{NotFound: func(iin string) bool { return iin == "931002451325" }}))
	defer srv.Close()
	status, body := mocktest.Do(t, "POST", srv.URL+"/shep/sync", mocktest.Envelope(t, "kopir", "kopir-secret", gbdfl.ServiceID, "931002451325"))
	var r fltypes.Response
	if _, err := shep.ParseResponse(body, &r); status != 200 || err != nil {
		t.Fatalf("%d %v", status, err)
	}
	if r.MessageResult.Code != "00000" || len(r.Persons.Person) != 0 || bytes.Contains(body, []byte("<persons")) {
		t.Fatalf("%s", body)
	}
	// Invalid IINs are never found, whatever NotFound says.
	_, body = mocktest.Do(t, "POST", srv.URL+"/shep/sync", mocktest.Envelope(t, "kopir", "kopir-secret", gbdfl.ServiceID, "931002451324"))
	if bytes.Contains(body, []byte("<persons")) {
		t.Fatalf("%s", body)
	}
}

// BenchmarkSHEPHandler is the mock's CPU cost per GBD FL call, without the
// network: parse and check the envelope, authenticate, answer.
func BenchmarkSHEPHandler(b *testing.B) {
	h := mocks.New(mocks.Options{Seed: 1})
	env := mocktest.Envelope(b, "kopir", "kopir-secret", gbdfl.ServiceID, "931002451325")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("POST", "/shep/sync", bytes.NewReader(env)))
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
}

// BenchmarkSHEPOverHTTP measures requests per second through a real
// listener with keep-alive clients, client and server on the same cores.
func BenchmarkSHEPOverHTTP(b *testing.B) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	env := mocktest.Envelope(b, "kopir", "kopir-secret", gbdfl.ServiceID, "931002451325")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(srv.URL+"/shep/sync", "text/xml", bytes.NewReader(env))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
