package nbrk_test

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/nbrk"
)

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestFeedIsFixedPerDateAndCounted(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	feed := func(fdate string) nbrk.Rates {
		status, body := get(t, srv.URL+"/nbrk/rss/get_rates.cfm?fdate="+fdate)
		var r nbrk.Rates
		if status != 200 || xml.Unmarshal(body, &r) != nil {
			t.Fatalf("%s: %d %s", fdate, status, body)
		}
		return r
	}
	a, b, c := feed("01.12.2026"), feed("01.12.2026"), feed("02.12.2026")
	if a.Date != "01.12.2026" || c.Date != "02.12.2026" || len(a.Items) != len(nbrk.Currencies) {
		t.Fatalf("%+v", a)
	}
	usd := func(r nbrk.Rates) nbrk.Item {
		for _, it := range r.Items {
			if it.Title == "USD" {
				return it
			}
		}
		t.Fatal("no USD")
		return nbrk.Item{}
	}
	if usd(a) != usd(b) {
		t.Errorf("one date, two answers: %+v %+v", usd(a), usd(b))
	}
	day := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	want := nbrk.Rate(nbrk.Currencies[2], day) - nbrk.Rate(nbrk.Currencies[2], day.AddDate(0, 0, -1))
	if got := usd(c); got.FullName != "ДОЛЛАР США" || got.Description != nbrk.Tenge(nbrk.Rate(nbrk.Currencies[2], day)) ||
		strings.TrimPrefix(got.Change, "+") != nbrk.Tenge(want) || got.Quant != 1 {
		t.Errorf("USD on 02.12.2026: %+v, change want %s", got, nbrk.Tenge(want))
	}
	if status, _ := get(t, srv.URL+"/nbrk/rss/get_rates.cfm?fdate=2026-12-01"); status != 400 {
		t.Errorf("fdate in the wrong layout answered %d", status)
	}
	_, body := get(t, srv.URL+"/_control/received/nbrk?key=01.12.2026")
	var rec mocks.Received
	json.Unmarshal(body, &rec)
	if rec.Total != 4 || len(rec.Items) != 1 || rec.Items[0].Count != 2 {
		t.Errorf("received log: %s", body)
	}
}

func TestTenge(t *testing.T) {
	for tiyn, want := range map[int64]string{51234: "512.34", 5: "0.05", -120: "-1.20", 0: "0.00"} {
		if got := nbrk.Tenge(tiyn); got != want {
			t.Errorf("%d: %s, want %s", tiyn, got, want)
		}
	}
}

func TestInjectedFailure(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	req, _ := http.NewRequest("PUT", srv.URL+"/_control/faults/nbrk", strings.NewReader(`{"failRate":1,"status":503}`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatal(err, resp)
	}
	if status, _ := get(t, srv.URL+"/nbrk/rss/get_rates.cfm?fdate=01.12.2026"); status != 503 {
		t.Errorf("faulted feed answered %d", status)
	}
}
