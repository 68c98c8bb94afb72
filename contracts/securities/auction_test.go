package securities

import (
	"strings"
	"testing"
)

func pct(t *testing.T, s string) Percent {
	t.Helper()
	p, err := ParsePercent(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func limit(t *testing.T, id, value string, units int64) Order {
	return Order{ID: id, Participant: "P-" + id, Type: LimitOrder, Value: pct(t, value), Units: units}
}

func market(id string, units int64) Order {
	return Order{ID: id, Participant: "P-" + id, Type: MarketOrder, Units: units}
}

type wantFill struct {
	units int64
	value string // "" when nothing is filled
}

func TestAllocate(t *testing.T) {
	priceAuction := func(offered int64, cutoff, share string, pricing Pricing) Auction {
		return Auction{Subject: SubjectPrice, Offered: offered, Cutoff: pct(t, cutoff), MarketShare: pct(t, share), Pricing: pricing}
	}
	mixed := []Order{
		limit(t, "L1", "99", 300),
		limit(t, "L2", "98.5", 200),
		limit(t, "L3", "98", 400),
		limit(t, "L4", "98", 200),
		limit(t, "L5", "97.5", 500),
		market("M1", 100),
	}
	tests := []struct {
		name          string
		auction       Auction
		orders        []Order
		outcome       Outcome
		fills         []wantFill
		limitUnits    int64
		marketUnits   int64
		min, max, avg string
	}{
		{
			// Better orders take 500, the market order 100, and the 400 left
			// go to the cut-off orders pro rata: 266.67 and 133.33, the spare
			// security to the larger remainder. Average (300×99 + 200×98.5 +
			// 400×98) / 900 = 98.4444….
			name:    "own price, cut-off orders pro rata",
			auction: priceAuction(1000, "98", "70", OwnPrice), orders: mixed,
			outcome:    Placed,
			fills:      []wantFill{{300, "99.0000"}, {200, "98.5000"}, {267, "98.0000"}, {133, "98.0000"}, {0, ""}, {100, "98.4444"}},
			limitUnits: 900, marketUnits: 100, min: "98.0000", max: "99.0000", avg: "98.4444",
		},
		{
			name:    "cut-off price for everyone",
			auction: priceAuction(1000, "98", "70", CutoffPrice), orders: mixed,
			outcome:    Placed,
			fills:      []wantFill{{300, "98.0000"}, {200, "98.0000"}, {267, "98.0000"}, {133, "98.0000"}, {0, ""}, {100, "98.0000"}},
			limitUnits: 900, marketUnits: 100, min: "98.0000", max: "98.0000", avg: "98.0000",
		},
		{
			// 30 % of 1000 is 300 for 500 asked: 180 and 120.
			name:       "market orders beyond their share",
			auction:    priceAuction(1000, "98", "30", OwnPrice),
			orders:     []Order{limit(t, "L1", "99", 200), market("M1", 300), market("M2", 200), limit(t, "L3", "98", 1000)},
			outcome:    Placed,
			fills:      []wantFill{{200, "99.0000"}, {180, "98.2857"}, {120, "98.2857"}, {500, "98.0000"}},
			limitUnits: 700, marketUnits: 300, min: "98.0000", max: "99.0000", avg: "98.2857",
		},
		{
			name:       "market share zero",
			auction:    priceAuction(1000, "98", "0", OwnPrice),
			orders:     []Order{limit(t, "L1", "99", 200), market("M1", 300)},
			outcome:    Placed,
			fills:      []wantFill{{200, "99.0000"}, {0, ""}},
			limitUnits: 200, marketUnits: 0, min: "99.0000", max: "99.0000", avg: "99.0000",
		},
		{
			// 10 × 10/30 = 3.33 each: the spare security goes to the first.
			name:       "equal remainders go to the earliest order",
			auction:    priceAuction(10, "98", "0", OwnPrice),
			orders:     []Order{limit(t, "A", "98", 10), limit(t, "B", "98", 10), limit(t, "C", "98", 10)},
			outcome:    Placed,
			fills:      []wantFill{{4, "98.0000"}, {3, "98.0000"}, {3, "98.0000"}},
			limitUnits: 10, min: "98.0000", max: "98.0000", avg: "98.0000",
		},
		{
			// (98.0001 + 98.0000) / 2 = 98.00005 rounds half up.
			name:       "average rounds half up to four decimals",
			auction:    priceAuction(10, "98", "50", OwnPrice),
			orders:     []Order{limit(t, "A", "98.0001", 1), limit(t, "B", "98", 1), market("M", 1)},
			outcome:    Placed,
			fills:      []wantFill{{1, "98.0001"}, {1, "98.0000"}, {1, "98.0001"}},
			limitUnits: 2, marketUnits: 1, min: "98.0000", max: "98.0001", avg: "98.0001",
		},
		{
			name:       "demand below the offer: everything accepted is filled",
			auction:    priceAuction(1_000_000, "97", "70", OwnPrice),
			orders:     []Order{limit(t, "A", "97.5", 1000), market("M", 5000), limit(t, "B", "97", 2000)},
			outcome:    Placed,
			fills:      []wantFill{{1000, "97.5000"}, {5000, "97.1667"}, {2000, "97.0000"}},
			limitUnits: 3000, marketUnits: 5000, min: "97.0000", max: "97.5000", avg: "97.1667",
		},
		{
			// Lower is better: 11.5 in full, 200 of 400 at 12, 12.5 refused.
			name:       "coupon rate auction",
			auction:    Auction{Subject: SubjectRate, Offered: 500, Cutoff: pct(t, "12"), MarketShare: pct(t, "0"), Pricing: OwnPrice},
			orders:     []Order{limit(t, "A", "12.5", 100), limit(t, "B", "11.5", 300), limit(t, "C", "12", 400)},
			outcome:    Placed,
			fills:      []wantFill{{0, ""}, {300, "11.5000"}, {200, "12.0000"}},
			limitUnits: 500, min: "11.5000", max: "12.0000", avg: "11.7000",
		},
		{
			name:        "market orders take the room of the cut-off orders",
			auction:     priceAuction(100, "98", "100", OwnPrice),
			orders:      []Order{limit(t, "A", "98", 50), market("M", 200)},
			outcome:     Placed,
			fills:       []wantFill{{0, ""}, {100, "98.0000"}},
			marketUnits: 100, min: "98.0000", max: "98.0000", avg: "98.0000",
		},
		{
			name:    "invalid: every limit order below the cut-off",
			auction: priceAuction(1000, "98", "70", OwnPrice),
			orders:  []Order{limit(t, "A", "97.9999", 500), market("M", 100)},
			outcome: Invalid,
			fills:   []wantFill{{0, ""}, {0, ""}},
			min:     "0.0000", max: "0.0000", avg: "0.0000",
		},
		{
			name:    "invalid: market orders only",
			auction: priceAuction(1000, "98", "70", OwnPrice),
			orders:  []Order{market("M", 100)},
			outcome: Invalid,
			fills:   []wantFill{{0, ""}},
			min:     "0.0000", max: "0.0000", avg: "0.0000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Allocate(tt.auction, tt.orders)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.outcome {
				t.Errorf("outcome %v, want %v", res.Outcome, tt.outcome)
			}
			if len(res.Fills) != len(tt.fills) {
				t.Fatalf("%d fills, want %d", len(res.Fills), len(tt.fills))
			}
			var placed int64
			for i, w := range tt.fills {
				f := res.Fills[i]
				wantValue := w.value
				if wantValue == "" {
					wantValue = "0.0000"
				}
				if f.Order.ID != tt.orders[i].ID || f.Units != w.units || f.Value.String() != wantValue {
					t.Errorf("fill %d (%s) = %d at %s, want %d at %s", i+1, f.Order.ID, f.Units, f.Value, w.units, wantValue)
				}
				placed += f.Units
			}
			if res.LimitUnits != tt.limitUnits || res.MarketUnits != tt.marketUnits {
				t.Errorf("limit/market units %d/%d, want %d/%d", res.LimitUnits, res.MarketUnits, tt.limitUnits, tt.marketUnits)
			}
			if placed != res.PlacedUnits() {
				t.Errorf("fills add up to %d, PlacedUnits says %d", placed, res.PlacedUnits())
			}
			if placed > tt.auction.Offered {
				t.Errorf("placed %d, more than the %d offered", placed, tt.auction.Offered)
			}
			if res.Min.String() != tt.min || res.Max.String() != tt.max || res.WeightedAverage.String() != tt.avg {
				t.Errorf("min/max/avg %s/%s/%s, want %s/%s/%s", res.Min, res.Max, res.WeightedAverage, tt.min, tt.max, tt.avg)
			}
		})
	}
}

func TestAllocateRejects(t *testing.T) {
	good := Auction{Subject: SubjectPrice, Offered: 1000, Cutoff: pct(t, "98"), MarketShare: pct(t, "70"), Pricing: OwnPrice}
	with := func(change func(*Auction)) Auction { a := good; change(&a); return a }
	tests := []struct {
		name    string
		auction Auction
		orders  []Order
		wantErr string
	}{
		{"better orders exceed the offer", good, []Order{limit(t, "A", "99", 600), limit(t, "B", "98.5", 401)}, "ask for 1001 securities, more than the 1000 offered"},
		{"no subject", with(func(a *Auction) { a.Subject = 0 }), nil, "neither price nor rate"},
		{"no pricing", with(func(a *Auction) { a.Pricing = 0 }), nil, "neither own price nor cut-off price"},
		{"nothing offered", with(func(a *Auction) { a.Offered = 0 }), nil, "offered volume 0 is not positive"},
		{"no cut-off", with(func(a *Auction) { a.Cutoff = 0 }), nil, "cut-off 0.0000 is not positive"},
		{"share over 100 %", with(func(a *Auction) { a.MarketShare = pct(t, "100.0001") }), nil, "more than 100 %"},
		{"duplicate id", good, []Order{limit(t, "A", "99", 1), limit(t, "A", "99", 1)}, `order 2: id "A" is used twice`},
		{"market order with a price", good, []Order{{ID: "M", Type: MarketOrder, Value: pct(t, "99"), Units: 1}}, "market order carries a price or rate 99.0000"},
		{"limit order without a price", good, []Order{{ID: "L", Type: LimitOrder, Units: 1}}, "limit order without a price or rate"},
		{"zero volume", good, []Order{limit(t, "A", "99", 0)}, `order 1 ("A"): volume 0 securities is not positive`},
		{"no type", good, []Order{{ID: "X", Value: pct(t, "99"), Units: 1}}, "order type 0 is neither limit nor market"},
		{"no id", good, []Order{{Type: MarketOrder, Units: 1}}, "no id"},
		{"volumes overflow", good, []Order{limit(t, "A", "99", 1<<62), limit(t, "B", "99", 1<<62)}, "add up to more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Allocate(tt.auction, tt.orders)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Allocate error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
