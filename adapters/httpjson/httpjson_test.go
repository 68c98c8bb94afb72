package httpjson_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	_ "github.com/minfin-kz/kopir/adapters/httpjson"
	"github.com/minfin-kz/kopir/mocks"
	_ "github.com/minfin-kz/kopir/mocks/subscriber"
)

var yamlOpts = adaptertest.Options

func post(t testing.TB, url string, w *adapters.WireRequest) *adapters.WireResponse {
	t.Helper()
	req, err := http.NewRequest(w.Method, url+w.Path, bytes.NewReader(w.Body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = w.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &adapters.WireResponse{Endpoint: url, StatusCode: resp.StatusCode, Header: resp.Header, Body: body}
}

func newAdapter(t *testing.T, opts string) adapters.Adapter {
	t.Helper()
	f, ok := adapters.Lookup("http")
	if !ok {
		t.Fatal("http not registered")
	}
	a, err := f(adapters.AdapterConfig{Operation: "deliver", Options: yamlOpts(opts)}, adaptertest.Resources(t))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDeliverToSubscriber(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	a := newAdapter(t, "headers:\n  X-Api-Key: secret")
	req := &adapters.Request{Route: "payments-out", MessageID: "msg-1", CorrelationID: "corr-1", IdempotencyKey: "idem-1", Body: json.RawMessage(`{"amount":"1.00"}`)}
	w, err := a.Encode(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	h := w.Header
	if w.Method != "POST" || string(w.Body) != `{"amount":"1.00"}` || h.Get("Content-Type") != "application/json" ||
		h.Get("Idempotency-Key") != "idem-1" || h.Get("X-Correlation-Id") != "corr-1" || h.Get("X-Kopir-Message-Id") != "msg-1" ||
		h.Get("X-Kopir-Route") != "payments-out" || h.Get("X-Api-Key") != "secret" {
		t.Fatalf("%+v", w)
	}
	for i := 0; i < 2; i++ {
		resp, err := a.Decode(context.Background(), req, post(t, srv.URL+"/subscriber/payments", w))
		if err != nil || string(resp.Body) != "{\"ok\":true}\n" {
			t.Fatalf("%v %s", err, resp.Body)
		}
	}
	// The key falls back to the message id, stable across retries.
	req.IdempotencyKey = ""
	w, _ = a.Encode(context.Background(), req)
	if w.Header.Get("Idempotency-Key") != "msg-1" {
		t.Fatal(w.Header)
	}
	post(t, srv.URL+"/subscriber", w)
	resp, _ := http.Get(srv.URL + "/_control/received/subscriber")
	var r mocks.Received
	json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if r.Total != 3 || r.Unique != 2 || r.Items[0].Key != "idem-1" || r.Items[0].Count != 2 {
		t.Fatalf("%+v", r)
	}
}

func TestDecodeStatuses(t *testing.T) {
	a := newAdapter(t, "")
	for _, c := range []struct {
		status    int
		body      string
		want      string
		code      string
		retryable bool
	}{
		{200, `{"id":7}`, `{"id":7}`, "", false},
		{201, `accepted`, `{}`, "", false},
		{204, ``, `{}`, "", false},
		{400, `{"error":"bad"}`, "", "HTTP_400", false},
		{409, ``, "", "HTTP_409", false},
		{413, ``, "", "HTTP_413", false},
		{429, ``, "", "HTTP_429", true},
		{500, ``, "", "HTTP_500", true},
		{503, ``, "", "HTTP_503", true},
		{302, ``, "", "HTTP_302", false},
	} {
		resp, err := a.Decode(context.Background(), &adapters.Request{}, &adapters.WireResponse{StatusCode: c.status, Body: []byte(c.body)})
		if c.code == "" {
			if err != nil || string(resp.Body) != c.want {
				t.Errorf("%d: %v %s", c.status, err, resp.Body)
			}
			continue
		}
		var ae *adapters.Error
		if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != c.code || ae.Retryable != c.retryable {
			t.Errorf("%d: %+v", c.status, err)
		}
		if ae != nil && ae.Configuration != (c.status == 413) {
			t.Errorf("%d: a receiver refusing the size is a configuration error, and only that: %+v", c.status, ae)
		}
	}
}

func TestInjectedFailureIsRetryable(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	req, _ := http.NewRequest("PUT", srv.URL+"/_control/faults/subscriber", strings.NewReader(`{"failRate":1,"status":503}`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatal(err, resp)
	}
	a := newAdapter(t, "")
	in := &adapters.Request{MessageID: "m", Body: json.RawMessage(`{}`)}
	w, _ := a.Encode(context.Background(), in)
	_, err := a.Decode(context.Background(), in, post(t, srv.URL+"/subscriber", w))
	var ae *adapters.Error
	if !errors.As(err, &ae) || !ae.Retryable || ae.Code != "HTTP_503" {
		t.Fatalf("%v", err)
	}
}

func TestOptions(t *testing.T) {
	f, _ := adapters.Lookup("http")
	for _, opts := range []string{
		"headers:\n  Idempotency-Key: x",
		"headers:\n  content-type: text/plain",
		"headers:\n  \"Bad Name\": x",
		"headers:\n  X-A: \"a\\r\\nX-B: b\"",
		"timeout: 5s",
	} {
		if _, err := f(adapters.AdapterConfig{Operation: "deliver", Options: yamlOpts(opts)}, adaptertest.Resources(t)); err == nil {
			t.Errorf("accepted %q", opts)
		}
	}
}
