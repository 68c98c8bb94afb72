package httpjson_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/nbrk"
)

// ratesOptions is the nbrk.rates route's options block, as in
// deploy/local.yaml.
const ratesOptions = `
path: /rss/get_rates.cfm
fields:
  date: {type: date, default: today, currentTTL: 5m}
query: {fdate: "{{date:02.01.2006}}"}
maxResponse: 64KiB
response:
  root: rates
  fields:
    date: {type: date, layout: 02.01.2006}
    rates:
      from: item
      list: true
      fields:
        currency: {from: title}
        name: {from: fullname}
        rate: {from: description, type: decimal}
        quant: {type: integer}
`

// noon on 1 December 2026 in Astana; 19:30 UTC on 30 November is already
// 1 December there.
var (
	astanaNoon = time.Date(2026, 12, 1, 12, 0, 0, 0, time.FixedZone("", 5*3600))
	lateUTC    = time.Date(2026, 11, 30, 19, 30, 0, 0, time.UTC)
)

func getXML(t *testing.T, options string, now time.Time) adapters.Adapter {
	t.Helper()
	f, _ := adapters.Lookup("http")
	a, err := f(adapters.AdapterConfig{Route: "nbrk.rates", Operation: "get-xml", Options: yamlOpts(options)}, adaptertest.At(t, now))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestGetXMLRequest(t *testing.T) {
	for _, c := range []struct {
		name      string
		now       time.Time
		body      string
		canonical string
		path      string
		field     string // a 422 naming it, when set
	}{
		{"a date", astanaNoon, `{"date":"2026-11-02"}`, `{"date":"2026-11-02"}`, "/rss/get_rates.cfm?fdate=02.11.2026", ""},
		{"today by default", astanaNoon, `{}`, `{"date":"2026-12-01"}`, "/rss/get_rates.cfm?fdate=01.12.2026", ""},
		{"an empty body is today", astanaNoon, ``, `{"date":"2026-12-01"}`, "/rss/get_rates.cfm?fdate=01.12.2026", ""},
		{"null is the default", astanaNoon, `{"date":null}`, `{"date":"2026-12-01"}`, "/rss/get_rates.cfm?fdate=01.12.2026", ""},
		{"today is Astana's", lateUTC, `{}`, `{"date":"2026-12-01"}`, "/rss/get_rates.cfm?fdate=01.12.2026", ""},
		{"unknown field", astanaNoon, `{"date":"2026-12-01","currency":"USD"}`, "", "", "currency"},
		{"not a date", astanaNoon, `{"date":"01.12.2026"}`, "", "", "date"},
		{"no such day", astanaNoon, `{"date":"2026-02-30"}`, "", "", "date"},
		{"a number", astanaNoon, `{"date":20261201}`, "", "", "date"},
		{"query text smuggled in", astanaNoon, `{"date":"2026-12-01&fdate=x"}`, "", "", "date"},
		{"not an object", astanaNoon, `["2026-12-01"]`, "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := getXML(t, ratesOptions, c.now)
			req := &adapters.Request{Route: "nbrk.rates", Body: json.RawMessage(c.body)}
			err := a.(adapters.Validator).Validate(context.Background(), req)
			if c.canonical == "" {
				var ae *adapters.Error
				if !errors.As(err, &ae) || ae.Status != 422 || ae.Field != c.field {
					t.Fatalf("want 422 on %q, got %v", c.field, err)
				}
				if _, err := a.Encode(context.Background(), &adapters.Request{Body: json.RawMessage(c.body)}); err == nil {
					t.Error("Encode sent what Validate refuses")
				}
				return
			}
			if err != nil || string(req.Body) != c.canonical {
				t.Fatalf("validate: %v, body %s", err, req.Body)
			}
			w, err := a.Encode(context.Background(), req)
			if err != nil || w.Method != "GET" || w.Path != c.path || len(w.Body) != 0 {
				t.Fatalf("encode: %v %+v", err, w)
			}
		})
	}
}

func TestGetXMLTemplates(t *testing.T) {
	const fields = "fields:\n  date: {type: date}\n  code: {type: string, pattern: '[A-Z]{3}'}\n  n: {type: integer, default: '1'}\n"
	a := getXML(t, "path: /v1/{{code}}/rates\nquery: {on: \"{{date:2006/01/02}}\", iso: \"{{date}}\", n: \"{{n}}\", fixed: 'a b'}\n"+fields, astanaNoon)
	req := &adapters.Request{Body: json.RawMessage(`{"date":"2026-12-01","code":"USD"}`)}
	if err := a.(adapters.Validator).Validate(context.Background(), req); err != nil || string(req.Body) != `{"code":"USD","date":"2026-12-01","n":1}` {
		t.Fatalf("%v %s", err, req.Body)
	}
	w, err := a.Encode(context.Background(), req)
	if err != nil || w.Path != "/v1/USD/rates?fixed=a+b&iso=2026-12-01&n=1&on=2026%2F12%2F01" {
		t.Fatalf("%v %q", err, w.Path)
	}
	for body, field := range map[string]string{
		`{"date":"2026-12-01"}`:                       "code",
		`{"date":"2026-12-01","code":"usd"}`:          "code",
		`{"date":"2026-12-01","code":"US/D"}`:         "code",
		`{"date":"2026-12-01","code":"USD","n":1.5}`:  "n",
		`{"date":"2026-12-01","code":"USD","n":"1"}`:  "n",
		`{"date":"2026-12-01","code":["USD"]}`:        "code",
		`{"code":"USD"}`:                              "date",
		`{"date":"2026-12-01","code":"USD","x":true}`: "x",
	} {
		err := a.(adapters.Validator).Validate(context.Background(), &adapters.Request{Body: json.RawMessage(body)})
		var ae *adapters.Error
		if !errors.As(err, &ae) || ae.Status != 422 || ae.Field != field {
			t.Errorf("%s: want 422 on %s, got %v", body, field, err)
		}
	}
}

func TestGetXMLOptionsRefused(t *testing.T) {
	f, _ := adapters.Lookup("http")
	for _, opts := range []string{
		"path: rss",                          // not absolute
		"path: /rss?fdate=1",                 // query outside options.query
		"path: /rss\nquery: {d: '{{date}}'}", // no such field
		"path: /rss\nfields: {d: {type: date}}\nquery: {d: '{{d'}",
		"path: /rss\nfields: {d: {type: date}}\nquery: {d: 'x}}'}",
		"path: /rss\nfields: {s: {type: string}}\nquery: {d: '{{s:2006}}'}", // layout on a string
		"path: /rss\nfields: {d: {type: time}}",
		"path: /rss\nfields: {d: {type: date, default: tomorrow}}",
		"path: /rss\nfields: {s: {type: string, currentTTL: 1m}}",
		"path: /rss\nfields: {s: {type: string, pattern: '['}}",
		"path: /rss\nfields: {n: {type: integer, default: one}}",
		"path: /rss\nutcOffset: Asia/Almaty",
		"path: /rss\nresponse: {fields: {a: {}}}",                     // no root
		"path: /rss\nresponse: {root: r}",                             // no fields
		"path: /rss\nresponse: {root: r, fields: {a: {type: money}}}", // unknown type
		"path: /rss\nresponse: {root: r, fields: {a: {type: date}}}",  // date without layout
		"path: /rss\nresponse: {root: r, fields: {a: {type: decimal, fields: {b: {}}}}}",
		"path: /rss\nheaders: {Accept-Charset: \"a\\nb\"}",
		"path: /rss\nunknown: 1",
	} {
		if _, err := f(adapters.AdapterConfig{Operation: "get-xml", Options: yamlOpts(opts)}, adaptertest.Resources(t)); err == nil {
			t.Errorf("accepted %q", opts)
		}
	}
}

func TestGetXMLRatesFromTheMockFeed(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	a := getXML(t, ratesOptions, astanaNoon)
	ask := func(body string) *adapters.Response {
		req := &adapters.Request{Body: json.RawMessage(body)}
		if err := a.(adapters.Validator).Validate(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		w, err := a.Encode(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := a.Decode(context.Background(), req, post(t, srv.URL+"/nbrk", w))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var got struct {
		Date  string
		Rates []struct {
			Currency, Name, Rate string
			Quant                json.Number
		}
	}
	past := ask(`{"date":"2026-11-02"}`)
	if err := json.Unmarshal(past.Body, &got); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	if got.Date != "2026-11-02" || len(got.Rates) != len(nbrk.Currencies) {
		t.Fatalf("%s", past.Body)
	}
	for i, c := range nbrk.Currencies {
		r := got.Rates[i]
		if r.Currency != c.Code || r.Name != c.Name || r.Rate != nbrk.Tenge(nbrk.Rate(c, day)) || r.Quant.String() != strconv.Itoa(c.Quant) {
			t.Errorf("%s: %+v", c.Code, r)
		}
	}
	if !strings.Contains(string(past.Body), `"quant":10`) || !strings.Contains(string(past.Body), `"rate":"`) {
		t.Errorf("quant is a number, rate an exact decimal string: %s", past.Body)
	}
	for body, ttl := range map[string]time.Duration{
		`{"date":"2026-11-02"}`: 0, // a past day keeps the route's cacheTTL
		`{}`:                    5 * time.Minute,
		`{"date":"2026-12-02"}`: 5 * time.Minute, // a day to come may still be published
	} {
		if got := ask(body).CacheTTL; got != ttl {
			t.Errorf("%s: kept %v, want %v", body, got, ttl)
		}
	}
}

func TestGetXMLAnswers(t *testing.T) {
	a := getXML(t, ratesOptions, astanaNoon)
	req := &adapters.Request{Body: json.RawMessage(`{"date":"2026-12-01"}`)}
	item := `<item><fullname>ДОЛЛАР США</fullname><title>USD</title><description>%s</description><quant>1</quant></item>`
	feed := func(date, rate string) string {
		return `<?xml version="1.0" encoding="utf-8"?><rates><date>` + date + `</date>` + strings.Replace(item, "%s", rate, 1) + `</rates>`
	}
	for _, c := range []struct {
		name   string
		status int
		body   string
		want   string // the JSON answer, or the error code
	}{
		{"ok", 200, feed("01.12.2026", "512.34"), `{"date":"2026-12-01","rates":[{"currency":"USD","name":"ДОЛЛАР США","quant":1,"rate":"512.34"}]}`},
		{"no items", 200, `<rates><date>01.12.2026</date></rates>`, `{"date":"2026-12-01","rates":[]}`},
		{"rate kept exact", 200, feed("01.12.2026", "0.1000000000000000055511"), `"rate":"0.1000000000000000055511"`},
		{"feed down", 503, "", "HTTP_503"},
		{"not found", 404, "", "HTTP_404"},
		{"html error page", 200, `<html><body>error</body></html>`, "UNEXPECTED_ANSWER"},
		{"rate not a number", 200, feed("01.12.2026", "n/a"), "UNEXPECTED_ANSWER"},
		{"rate with a comma", 200, feed("01.12.2026", "512,34"), "UNEXPECTED_ANSWER"},
		{"date missing", 200, `<rates></rates>`, "UNEXPECTED_ANSWER"},
		{"date in another layout", 200, feed("2026-12-01", "1.00"), "UNEXPECTED_ANSWER"},
		{"two dates", 200, `<rates><date>01.12.2026</date><date>02.12.2026</date></rates>`, "UNEXPECTED_ANSWER"},
		{"a DTD", 200, `<!DOCTYPE rates [<!ENTITY x "y">]><rates><date>&x;</date></rates>`, "BAD_XML"},
		{"not XML", 200, `{"rates":[]}`, "BAD_XML"},
		{"too deep", 200, strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100), "BAD_XML"},
		{"over maxResponse", 200, `<rates>` + strings.Repeat(" ", 64<<10) + `</rates>`, "RESPONSE_TOO_LARGE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := a.Decode(context.Background(), req, &adapters.WireResponse{StatusCode: c.status, Body: []byte(c.body)})
			if strings.HasPrefix(c.want, "{") || strings.HasPrefix(c.want, `"`) {
				if err != nil || !strings.Contains(string(resp.Body), c.want) {
					t.Fatalf("%v %s", err, resp.Body)
				}
				return
			}
			var ae *adapters.Error
			if !errors.As(err, &ae) || ae.Code != c.want || ae.Status != 502 {
				t.Fatalf("want %s, got %v", c.want, err)
			}
			if c.status == 503 && (!ae.Retryable || !strings.Contains(ae.Detail, "HTTP 503 to GET /rss/get_rates.cfm?fdate=01.12.2026")) {
				t.Errorf("the failure says what was asked and may be retried: %+v", ae)
			}
		})
	}
}

func TestGetXMLGenericJSON(t *testing.T) {
	a := getXML(t, "path: /feed", astanaNoon)
	body := `<rates xmlns="urn:x"><date>01.12.2026</date><item a="1"><title>USD</title></item><item><title>EUR</title></item><note> x </note></rates>`
	resp, err := a.Decode(context.Background(), &adapters.Request{}, &adapters.WireResponse{StatusCode: 200, Body: []byte(body)})
	want := `{"rates":{"date":"01.12.2026","item":[{"title":"USD"},{"title":"EUR"}],"note":"x"}}`
	if err != nil || string(resp.Body) != want {
		t.Fatalf("%v\n got %s\nwant %s", err, resp.Body, want)
	}
	if resp.CacheTTL != 0 {
		t.Errorf("no currentTTL configured, yet kept for %v", resp.CacheTTL)
	}
}
