package subscriber_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/internal/mocktest"
	_ "github.com/minfin-kz/kopir/mocks/subscriber"
)

func TestReceived(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mocktest.Do(t, "POST", srv.URL+"/subscriber", []byte(`{"a":1}`), "Idempotency-Key", "dup")
		}()
	}
	wg.Wait()
	mocktest.Do(t, "POST", srv.URL+"/subscriber/x/y", []byte(`{"a":2}`), "X-Kopir-Message-Id", "by-message-id")
	if status, _ := mocktest.Do(t, "POST", srv.URL+"/subscriber", []byte(`not json`), "Idempotency-Key", "bad"); status != 400 {
		t.Fatal(status)
	}
	r := mocktest.Received(t, srv.URL, "subscriber")
	if r.Total != 21 || r.Unique != 2 || len(r.Items) != 2 || r.Items[0].Key != "dup" || r.Items[0].Count != 20 ||
		r.Items[1].Key != "by-message-id" || r.Items[0].FirstAt.After(r.Items[0].LastAt) {
		t.Fatalf("%+v", r)
	}
	status, b := mocktest.Do(t, "GET", srv.URL+"/_control/received/subscriber?key=by-message-id", nil)
	if status != 200 || !strings.Contains(string(b), `"items":[{"key":"by-message-id","count":1,`) {
		t.Fatalf("%s", b)
	}
	if status, _ := mocktest.Do(t, "DELETE", srv.URL+"/_control/received/subscriber", nil); status != 204 {
		t.Fatal(status)
	}
	if r := mocktest.Received(t, srv.URL, "subscriber"); r.Total != 0 || len(r.Items) != 0 {
		t.Fatalf("%+v", r)
	}
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
