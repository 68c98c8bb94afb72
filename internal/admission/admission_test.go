package admission

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGateAdmitsLargeBodiesOneAtATime(t *testing.T) {
	release := make(chan struct{})
	inside := make(chan struct{}, 4)
	var busy, idle int
	g := &Gate{Threshold: 10, Slots: 1, Wait: 200 * time.Millisecond,
		Busy: func() { busy++ }, Idle: func() { idle++ }}
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside <- struct{}{}
		if r.ContentLength > 10 {
			<-release
		}
		w.WriteHeader(200)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func(body string) *http.Response {
		resp, err := http.Post(srv.URL, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return nil
		}
		resp.Body.Close()
		return resp
	}
	large := strings.Repeat("x", 100)

	var wg sync.WaitGroup
	var first *http.Response
	wg.Add(1)
	go func() { defer wg.Done(); first = post(large) }()
	<-inside // the first large body is being processed

	if resp := post("small"); resp == nil || resp.StatusCode != 200 {
		t.Fatalf("a small body waited behind a large one: %v", resp)
	}
	<-inside
	resp := post(large) // no slot within Wait
	if resp == nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second large body: %+v", resp)
	}
	close(release)
	wg.Wait()
	if first == nil || first.StatusCode != 200 {
		t.Fatalf("first large body: %+v", first)
	}
	if resp := post(large); resp == nil || resp.StatusCode != 200 {
		t.Fatalf("a large body after the slot was freed: %+v", resp)
	}
	if busy != 2 || idle != 2 {
		t.Fatalf("Busy ran %d times, Idle %d, want 2 and 2", busy, idle)
	}
}

func TestZeroGateAdmitsEverything(t *testing.T) {
	var g Gate
	r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 1<<20)))
	w := httptest.NewRecorder()
	g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })).ServeHTTP(w, r)
	if w.Code != 204 {
		t.Fatal(w.Code)
	}
}
