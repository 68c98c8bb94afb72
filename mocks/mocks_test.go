package mocks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/mocks"
)

func envelope(t testing.TB, sender, password, service, iin string) []byte {
	t.Helper()
	now := time.Now()
	b, err := shep.MarshalSendMessage(&shep.Request{
		Info: shep.NewInfo("7c9e6679-7425-40de-944b-e07fc1f90ae7", "", service, sender, password, now),
		Data: shep.Payload{
			Type:  xml.Name{Space: "http://message.persistence.interactive.nat", Local: "Request"},
			Value: &fltypes.Request{MessageId: "7c9e6679-7425-40de-944b-e07fc1f90ae7", MessageDate: soap.CreateXsdDateTime(now, true), SenderCode: sender, Iin: iin},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func do(t testing.TB, method, url string, body []byte, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func fault(t *testing.T, status int, body []byte) *shep.Fault {
	t.Helper()
	if status != 500 {
		t.Fatalf("fault with HTTP %d", status)
	}
	_, err := shep.ParseResponse(body, nil)
	var f *shep.Fault
	if !errors.As(err, &f) {
		t.Fatalf("not a fault: %v\n%s", err, body)
	}
	return f
}

func TestSHEPHappyPath(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	status, body := do(t, "POST", srv.URL+"/shep/sync", envelope(t, "kopir", "kopir-secret", mocks.GBDFLServiceID, "931002451325"))
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
	srv := httptest.NewServer(mocks.New(mocks.Options{Senders: map[string]string{"smartbridge": "123"}}))
	defer srv.Close()
	sample, err := os.ReadFile("testdata/shep_sync_sendmessage_gbdfl_request.xml")
	if err != nil {
		t.Fatal(err)
	}
	status, body := do(t, "POST", srv.URL+"/shep/sync", sample)
	var r fltypes.Response
	if _, err := shep.ParseResponse(body, &r); status != 200 || err != nil {
		t.Fatalf("%d %v %s", status, err, body)
	}
	if r.RequestId != "1" || r.Receiver.Code != "smartbridge" || r.Persons.Person[0].Iin != "931002451325" {
		t.Fatalf("%+v", r)
	}
}

func TestSHEPFaults(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	for _, c := range []struct {
		name string
		body []byte
		code string
	}{
		{"bad password", envelope(t, "kopir", "nope", mocks.GBDFLServiceID, "931002451325"), mocks.CodeAuth},
		{"unknown sender", envelope(t, "who", "kopir-secret", mocks.GBDFLServiceID, "931002451325"), mocks.CodeAuth},
		{"unknown service", envelope(t, "kopir", "kopir-secret", "NoSuchService", "931002451325"), mocks.CodeUnknownService},
		{"no iin", envelope(t, "kopir", "kopir-secret", mocks.GBDFLServiceID, ""), mocks.CodeBadRequest},
		{"not soap", []byte("<hello/>"), mocks.CodeBadRequest},
		{"dtd", []byte(`<!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]><x>&a;</x>`), mocks.CodeBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := do(t, "POST", srv.URL+"/shep/sync", c.body)
			f := fault(t, status, body)
			if f.Detail.Info == nil || f.Detail.Info.ErrorCode != c.code || f.Detail.Info.ErrorMessage == "" {
				t.Fatalf("%+v %s", f, body)
			}
		})
	}
}

func TestNotFoundIIN(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{NotFound: func(iin string) bool { return iin == "931002451325" }}))
	defer srv.Close()
	status, body := do(t, "POST", srv.URL+"/shep/sync", envelope(t, "kopir", "kopir-secret", mocks.GBDFLServiceID, "931002451325"))
	var r fltypes.Response
	if _, err := shep.ParseResponse(body, &r); status != 200 || err != nil {
		t.Fatalf("%d %v", status, err)
	}
	if r.MessageResult.Code != "00000" || len(r.Persons.Person) != 0 || bytes.Contains(body, []byte("<persons")) {
		t.Fatalf("%s", body)
	}
	// Invalid IINs are never found, whatever NotFound says.
	_, body = do(t, "POST", srv.URL+"/shep/sync", envelope(t, "kopir", "kopir-secret", mocks.GBDFLServiceID, "931002451324"))
	if bytes.Contains(body, []byte("<persons")) {
		t.Fatalf("%s", body)
	}
}

func putFault(t *testing.T, url, mock, body string) {
	t.Helper()
	status, b := do(t, "PUT", url+"/_control/faults/"+mock, []byte(body))
	if status != 200 {
		t.Fatalf("%d %s", status, b)
	}
}

func received(t *testing.T, url, mock string) mocks.Received {
	t.Helper()
	status, b := do(t, "GET", url+"/_control/received/"+mock, nil)
	var r mocks.Received
	if status != 200 || json.Unmarshal(b, &r) != nil {
		t.Fatalf("%d %s", status, b)
	}
	return r
}

func TestFaultRates(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 42}))
	defer srv.Close()
	putFault(t, srv.URL, "subscriber", `{"failRate":0.3,"status":503}`)
	const n = 1000
	failed := 0
	for i := 0; i < n; i++ {
		status, _ := do(t, "POST", srv.URL+"/subscriber/payments", []byte(`{"n":1}`), "Idempotency-Key", "k"+string(rune('a'+i%26)))
		switch status {
		case 200:
		case 503:
			failed++
		default:
			t.Fatalf("status %d", status)
		}
	}
	if failed < 250 || failed > 350 {
		t.Fatalf("failRate 0.3 gave %d/%d failures", failed, n)
	}
	r := received(t, srv.URL, "subscriber")
	if r.Total != int64(n-failed) || r.Rejected != int64(failed) || r.Unique != 26 || len(r.Items) != 26 {
		t.Fatalf("total %d rejected %d unique %d items %d, failed %d", r.Total, r.Rejected, r.Unique, len(r.Items), failed)
	}
	// Same seed, same sequence.
	srv2 := httptest.NewServer(mocks.New(mocks.Options{Seed: 42}))
	defer srv2.Close()
	putFault(t, srv2.URL, "subscriber", `{"failRate":0.3,"status":503}`)
	failed2 := 0
	for i := 0; i < n; i++ {
		if status, _ := do(t, "POST", srv2.URL+"/subscriber", []byte(`{}`)); status == 503 {
			failed2++
		}
	}
	if failed2 != failed {
		t.Fatalf("seeded runs differ: %d vs %d", failed, failed2)
	}
	// Cleared faults stop failing.
	if status, _ := do(t, "DELETE", srv.URL+"/_control/faults/subscriber", nil); status != 204 {
		t.Fatal(status)
	}
	for i := 0; i < 50; i++ {
		if status, _ := do(t, "POST", srv.URL+"/subscriber", []byte(`{}`)); status != 200 {
			t.Fatal(status)
		}
	}
}

func TestSHEPInjection(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	env := envelope(t, "kopir", "kopir-secret", mocks.GBDFLServiceID, "931002451325")
	putFault(t, srv.URL, "shep", `{"failRate":1,"status":502}`)
	if status, _ := do(t, "POST", srv.URL+"/shep/sync", env); status != 502 {
		t.Fatal(status)
	}
	putFault(t, srv.URL, "shep", `{"failRate":1,"soapFault":true}`)
	status, body := do(t, "POST", srv.URL+"/shep/sync", env)
	if f := fault(t, status, body); f.Detail.Info.ErrorCode != mocks.CodeInjected {
		t.Fatalf("%+v", f)
	}
	// shep counted both under the SHEP messageId, gbdfl never saw them.
	if r := received(t, srv.URL, "shep"); r.Rejected != 2 || r.Total != 0 || r.Items[0].Key != "7c9e6679-7425-40de-944b-e07fc1f90ae7" {
		t.Fatalf("%+v", r)
	}
	if r := received(t, srv.URL, "gbdfl"); r.Total+r.Rejected != 0 {
		t.Fatalf("%+v", r)
	}
	// Latency is added to every call.
	putFault(t, srv.URL, "shep", `{"latencyMs":60}`)
	start := time.Now()
	if status, _ := do(t, "POST", srv.URL+"/shep/sync", env); status != 200 {
		t.Fatal(status)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("latency %v", d)
	}
}

func TestTimeouts(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1, MaxHang: 300 * time.Millisecond}))
	defer srv.Close()
	putFault(t, srv.URL, "subscriber", `{"timeoutRate":1}`)
	// A client that gives up first sees its own timeout…
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/subscriber", strings.NewReader(`{}`))
	start := time.Now()
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Fatalf("hung %v", d)
	}
	// …one that waits gets 504 after MaxHang.
	if status, _ := do(t, "POST", srv.URL+"/subscriber", []byte(`{}`)); status != 504 {
		t.Fatal(status)
	}
}

func TestReceived(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(t, "POST", srv.URL+"/subscriber", []byte(`{"a":1}`), "Idempotency-Key", "dup")
		}()
	}
	wg.Wait()
	do(t, "POST", srv.URL+"/subscriber/x/y", []byte(`{"a":2}`), "X-Kopir-Message-Id", "by-message-id")
	if status, _ := do(t, "POST", srv.URL+"/subscriber", []byte(`not json`), "Idempotency-Key", "bad"); status != 400 {
		t.Fatal(status)
	}
	r := received(t, srv.URL, "subscriber")
	if r.Total != 21 || r.Unique != 2 || len(r.Items) != 2 || r.Items[0].Key != "dup" || r.Items[0].Count != 20 ||
		r.Items[1].Key != "by-message-id" || r.Items[0].FirstAt.After(r.Items[0].LastAt) {
		t.Fatalf("%+v", r)
	}
	status, b := do(t, "GET", srv.URL+"/_control/received/subscriber?key=by-message-id", nil)
	if status != 200 || !strings.Contains(string(b), `"items":[{"key":"by-message-id","count":1,`) {
		t.Fatalf("%s", b)
	}
	if status, _ := do(t, "DELETE", srv.URL+"/_control/received/subscriber", nil); status != 204 {
		t.Fatal(status)
	}
	if r := received(t, srv.URL, "subscriber"); r.Total != 0 || len(r.Items) != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestControlAPI(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{}))
	defer srv.Close()
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"PUT", "/_control/faults/nosuch", `{}`, 404},
		{"GET", "/_control/received/nosuch", ``, 404},
		{"PUT", "/_control/faults/shep", `{"failRate":2}`, 400},
		{"PUT", "/_control/faults/shep", `{"failRate":0.6,"timeoutRate":0.6}`, 400},
		{"PUT", "/_control/faults/shep", `{"status":200,"failRate":1}`, 400},
		{"PUT", "/_control/faults/shep", `{"fail":1}`, 400},
		{"PUT", "/_control/faults/gbdfl", `{"failRate":0.5}`, 200},
		{"GET", "/shep/sync", ``, 400},
		{"GET", "/shep/sync?file=../../../../etc/passwd", ``, 400},
	} {
		if status, b := do(t, c.method, srv.URL+c.path, []byte(c.body)); status != c.status {
			t.Errorf("%s %s %s: %d %s", c.method, c.path, c.body, status, b)
		}
	}
	_, b := do(t, "GET", srv.URL+"/_control/faults", nil)
	var faults map[string]mocks.Fault
	if err := json.Unmarshal(b, &faults); err != nil || len(faults) != 1 || faults["gbdfl"].FailRate != 0.5 || faults["gbdfl"].Status != 503 {
		t.Fatalf("%s", b)
	}
}

func TestWSDL(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{}))
	defer srv.Close()
	status, b := do(t, "GET", srv.URL+"/shep/sync?wsdl", nil)
	s := string(b)
	if status != 200 || !strings.Contains(s, `<soap:address location="`+srv.URL+`/shep/sync"/>`) ||
		!strings.Contains(s, `location="`+srv.URL+`/shep/sync?file=SyncChannel/v10/Interfaces/ISyncChannel.wsdl"`) {
		t.Fatalf("%d %s", status, s)
	}
	// Follow the import chain down to a common type.
	_, b = do(t, "GET", srv.URL+"/shep/sync?file=SyncChannel/v10/Interfaces/ISyncChannel.wsdl", nil)
	if !strings.Contains(string(b), `schemaLocation="`+srv.URL+`/shep/sync?file=SyncChannel/v10/Types/ISyncChannel.xsd"`) {
		t.Fatalf("%s", b)
	}
	_, b = do(t, "GET", srv.URL+"/shep/sync?file=SyncChannel/v10/Types/ISyncChannel.xsd", nil)
	if !strings.Contains(string(b), `schemaLocation="`+srv.URL+`/shep/sync?file=common/v10/Types/ErrorInfo.xsd"`) {
		t.Fatalf("%s", b)
	}
	if status, b := do(t, "GET", srv.URL+"/shep/sync?file=common/v10/Types/ErrorInfo.xsd", nil); status != 200 || !strings.Contains(string(b), "errorCode") {
		t.Fatalf("%d", status)
	}
}

// BenchmarkSHEPHandler is the mock's CPU cost per GBD FL call, without the
// network: parse and check the envelope, authenticate, answer.
func BenchmarkSHEPHandler(b *testing.B) {
	h := mocks.New(mocks.Options{Seed: 1})
	env := envelope(b, "kopir", "kopir-secret", mocks.GBDFLServiceID, "931002451325")
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
	env := envelope(b, "kopir", "kopir-secret", mocks.GBDFLServiceID, "931002451325")
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

func BenchmarkSubscriberOverHTTP(b *testing.B) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := []byte(`{"paymentId":"p-1","amount":"100.00","currency":"KZT"}`)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			req, _ := http.NewRequest("POST", srv.URL+"/subscriber", bytes.NewReader(body))
			req.Header.Set("Idempotency-Key", "k"+string(rune('a'+i%26)))
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
