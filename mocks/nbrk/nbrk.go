// Package nbrk simulates the National Bank of Kazakhstan's public feed of
// reference exchange rates: GET /nbrk/rss/get_rates.cfm?fdate=DD.MM.YYYY
// answers the feed's XML, <rates> with the date and one <item> per
// currency. The rates are made up but fixed per date, so a test can say
// what an answer must hold; each day's change is against the day before.
//
// Every request is logged in the control API's mock "nbrk" under its
// fdate (GET /_control/received/nbrk): a cache test counts there how many
// calls reached the feed. Faults: PUT /_control/faults/nbrk.
package nbrk

import (
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"net/http"
	"time"

	"github.com/minfin-kz/kopir/mocks"
)

// Name is the mock's name in the control API.
const Name = "nbrk"

// DateLayout is how the feed writes dates, in fdate and <date>.
const DateLayout = "02.01.2006"

func init() {
	mocks.Register(Name, func(s *mocks.Server) {
		h := handler{mock: s.Mock(Name), clock: s.Clock()}
		s.HandleFunc("GET /nbrk/rss/get_rates.cfm", h.serve)
	})
}

// Currency is one line of the feed.
type Currency struct {
	Code  string // ISO 4217, the feed's <title>
	Name  string // the feed's <fullname>
	Quant int    // units the rate is for
	base  int64  // tenge per Quant, in tiyn, around which the rate moves
}

// Currencies are the lines every answer holds, in the feed's order.
var Currencies = []Currency{
	{"AUD", "АВСТРАЛИЙСКИЙ ДОЛЛАР", 1, 33_512},
	{"GBP", "ФУНТ СТЕРЛИНГОВ СОЕДИНЕННОГО КОРОЛЕВСТВА", 1, 65_034},
	{"USD", "ДОЛЛАР США", 1, 51_234},
	{"EUR", "ЕВРО", 1, 55_871},
	{"CNY", "КИТАЙСКИЙ ЮАНЬ", 1, 7_143},
	{"RUB", "РОССИЙСКИЙ РУБЛЬ", 1, 642},
	{"JPY", "ЯПОНСКИХ ЙЕН", 10, 3_361},
}

// Item is one <item> of the feed.
type Item struct {
	FullName    string `xml:"fullname"`
	Title       string `xml:"title"`
	Description string `xml:"description"`
	Quant       int    `xml:"quant"`
	Index       string `xml:"index"`
	Change      string `xml:"change"`
}

// Rates is the feed's document.
type Rates struct {
	XMLName     xml.Name `xml:"rates"`
	Generator   string   `xml:"generator"`
	Title       string   `xml:"title"`
	Link        string   `xml:"link"`
	Description string   `xml:"description"`
	Copyright   string   `xml:"copyright"`
	Date        string   `xml:"date"`
	Items       []Item   `xml:"item"`
}

// Rate is c's rate on day in tiyn per Quant: the base moved by up to ±2%
// by a hash of the day and the code.
func Rate(c Currency, day time.Time) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s", day.Format(time.DateOnly), c.Code)
	permille := int64(h.Sum64()%41) - 20 // -20..+20 ‰
	return c.base + c.base*permille/1000
}

// Tenge writes tiyn as the feed does, two decimals.
func Tenge(tiyn int64) string {
	sign := ""
	if tiyn < 0 {
		sign, tiyn = "-", -tiyn
	}
	return fmt.Sprintf("%s%d.%02d", sign, tiyn/100, tiyn%100)
}

// Feed is the document for day.
func Feed(day time.Time) *Rates {
	out := &Rates{Generator: "Kopir mock of the National Bank's rates", Title: "Официальные курсы валют",
		Link: "https://nationalbank.kz/rss/rates_all.xml", Description: "Официальные курсы валют",
		Copyright: "mock", Date: day.Format(DateLayout)}
	prev := day.AddDate(0, 0, -1)
	for _, c := range Currencies {
		r, p := Rate(c, day), Rate(c, prev)
		index, change := "", "0.00"
		switch {
		case r > p:
			index, change = "UP", "+"+Tenge(r-p)
		case r < p:
			index, change = "DOWN", Tenge(r-p)
		}
		out.Items = append(out.Items, Item{FullName: c.Name, Title: c.Code, Description: Tenge(r), Quant: c.Quant, Index: index, Change: change})
	}
	return out
}

type handler struct {
	mock  *mocks.Mock
	clock *mocks.Clock
}

func (h handler) serve(w http.ResponseWriter, r *http.Request) {
	fdate := r.URL.Query().Get("fdate")
	key := fdate
	if key == "" {
		key = "(no fdate)"
	}
	if !h.mock.Admit(w, r, key, func(w http.ResponseWriter, f *mocks.Fault) {
		http.Error(w, "injected failure of the mock National Bank feed", f.Status)
	}) {
		return
	}
	day := h.clock.Now().In(time.FixedZone("UTC+05:00", 5*3600))
	if fdate != "" {
		d, err := time.Parse(DateLayout, fdate)
		if err != nil {
			http.Error(w, "fdate must be DD.MM.YYYY", http.StatusBadRequest)
			return
		}
		day = d
	}
	body, err := xml.MarshalIndent(Feed(day), "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write([]byte(xml.Header))
	w.Write(body)
}
