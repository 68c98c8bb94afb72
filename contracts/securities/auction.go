package securities

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
)

// Subject is what bidders compete on.
type Subject int

const (
	// SubjectPrice: the clean price in % of face value; higher is better
	// for the issuer.
	SubjectPrice Subject = iota + 1
	// SubjectRate: the coupon rate in % a year; lower is better for the
	// issuer.
	SubjectRate
)

// OrderType is limit (with a price or rate) or market (without).
type OrderType int

const (
	LimitOrder OrderType = iota + 1
	MarketOrder
)

// Pricing is the price a limit order is filled at.
type Pricing int

const (
	// OwnPrice fills each limit order at its own price or rate
	// (discriminatory auction); the exchange's usual term.
	OwnPrice Pricing = iota + 1
	// CutoffPrice fills every limit order at the cut-off (uniform price).
	CutoffPrice
)

// Order is one participant's bid. Volumes are whole securities, not
// money: the depository registers securities, a money volume would leave
// a fraction of one to round, and UnitsForVolume converts an announced
// money volume once, up front.
type Order struct {
	ID          string
	Participant string
	Type        OrderType
	// Value is the price or rate of a limit order; a market order has
	// none.
	Value Percent
	Units int64
}

// Auction is the issuer's terms and decision for one session.
type Auction struct {
	Subject Subject
	// Offered is the most securities the issuer places.
	Offered int64
	// Cutoff is the worst price (or rate) the issuer accepts.
	Cutoff Percent
	// MarketShare caps market orders, in % of Offered (0–100).
	MarketShare Percent
	Pricing     Pricing
}

// Outcome is how the session ended.
type Outcome int

const (
	// Placed: at least one limit order was accepted.
	Placed Outcome = iota + 1
	// Invalid: no limit order was at or better than the cut-off, so there
	// is no price to fill anything at and nothing is placed. (The third
	// outcome, declared failed by the issuer, is a decision, not a
	// computation, and is not produced here.)
	Invalid
)

func (o Outcome) String() string {
	switch o {
	case Placed:
		return "placed"
	case Invalid:
		return "invalid"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Fill is what one order received; rejected orders have zero Units.
type Fill struct {
	Order Order
	Units int64
	// Value is the price or rate the order is filled at (zero when
	// nothing is filled).
	Value Percent
}

// Result is the allocation of one session.
type Result struct {
	Outcome Outcome
	// Fills has one entry per order, in the orders' order.
	Fills       []Fill
	LimitUnits  int64
	MarketUnits int64
	// Min, Max and WeightedAverage are over the filled limit orders at
	// the values they are filled at (numerically: for rates Min is the
	// issuer's best); WeightedAverage is weighted by units and rounded
	// half up to four decimals, and market orders are filled at exactly
	// that rounded value. When market orders leave no room for the only
	// accepted limit orders, those at the cut-off, all three are the
	// cut-off.
	Min, Max, WeightedAverage Percent
}

// PlacedUnits is the number of securities sold.
func (r Result) PlacedUnits() int64 { return r.LimitUnits + r.MarketUnits }

// Allocate applies the placement rules to the orders.
//
// Public rules: limit orders better than the cut-off are filled in full,
// at their own price or at the cut-off per Pricing; limit orders at the
// cut-off share what remains pro rata; market orders are filled at the
// weighted-average price of the filled limit orders, at most MarketShare
// of the offered volume; no accepted limit order makes the session
// invalid.
//
// Köpir's assumptions where the exchange publishes no rule:
//   - Order of priority: limit orders better than the cut-off, then market
//     orders, then limit orders at the cut-off. Market orders pay the
//     average of accepted prices, never worse than the cut-off, so the
//     issuer prefers them to the marginal orders; the cut-off orders are
//     the ones that take "what remains".
//   - If the orders better than the cut-off exceed the offered volume,
//     the cut-off is an error: a higher one must be chosen.
//   - Pro rata (among cut-off orders, and among market orders when they
//     exceed their share) is in whole securities by largest remainder:
//     each order gets the floor of its exact share, and the securities
//     left go one each to the largest fractional parts, ties to the
//     order that came first in orders (the exchange's arrival order).
func Allocate(a Auction, orders []Order) (Result, error) {
	if err := a.check(); err != nil {
		return Result{}, err
	}
	seen := make(map[string]bool, len(orders))
	var demand int64
	for i, o := range orders {
		if err := a.checkOrder(o); err != nil {
			return Result{}, fmt.Errorf("order %d (%q): %w", i+1, o.ID, err)
		}
		if o.Units > math.MaxInt64-demand {
			return Result{}, fmt.Errorf("order %d (%q): the orders' volumes add up to more than %d securities", i+1, o.ID, int64(math.MaxInt64))
		}
		demand += o.Units
		if seen[o.ID] {
			return Result{}, fmt.Errorf("order %d: id %q is used twice", i+1, o.ID)
		}
		seen[o.ID] = true
	}

	var better, atCutoff, market []int
	var betterUnits int64
	for i, o := range orders {
		switch {
		case o.Type == MarketOrder:
			market = append(market, i)
		case o.Value == a.Cutoff:
			atCutoff = append(atCutoff, i)
		case a.better(o.Value, a.Cutoff):
			better = append(better, i)
			betterUnits += o.Units
		}
	}

	res := Result{Fills: make([]Fill, len(orders))}
	for i, o := range orders {
		res.Fills[i].Order = o
	}
	if len(better)+len(atCutoff) == 0 {
		res.Outcome = Invalid
		return res, nil
	}
	if betterUnits > a.Offered {
		return Result{}, fmt.Errorf("limit orders better than the cut-off %s ask for %d securities, more than the %d offered: the cut-off must be higher", a.Cutoff, betterUnits, a.Offered)
	}

	remaining := a.Offered - betterUnits
	for _, i := range better {
		res.Fills[i].Units = orders[i].Units
	}
	marketCap := new(big.Rat).Mul(big.NewRat(a.Offered, 1), a.MarketShare.Fraction())
	marketRoom := min(remaining, new(big.Int).Quo(marketCap.Num(), marketCap.Denom()).Int64())
	marketUnits := prorate(orders, market, marketRoom, res.Fills)
	remaining -= marketUnits
	prorate(orders, atCutoff, remaining, res.Fills)

	weighted := new(big.Rat)
	first := true
	for _, i := range slices.Concat(better, atCutoff) {
		f := &res.Fills[i]
		if f.Units == 0 {
			continue
		}
		f.Value = orders[i].Value
		if a.Pricing == CutoffPrice {
			f.Value = a.Cutoff
		}
		if first || f.Value < res.Min {
			res.Min = f.Value
		}
		if first || f.Value > res.Max {
			res.Max = f.Value
		}
		first = false
		res.LimitUnits += f.Units
		weighted.Add(weighted, new(big.Rat).Mul(f.Value.Rat(), big.NewRat(f.Units, 1)))
	}
	avg := a.Cutoff
	if res.LimitUnits > 0 {
		var err error
		if avg, err = RoundPercent(weighted.Quo(weighted, big.NewRat(res.LimitUnits, 1))); err != nil {
			return Result{}, err
		}
	} else {
		// Only cut-off orders were accepted and market orders took all the
		// room: the accepted orders all stand at the cut-off, so that is
		// their average, and the session is still placed.
		res.Min, res.Max = a.Cutoff, a.Cutoff
	}
	res.WeightedAverage = avg
	for _, i := range market {
		if res.Fills[i].Units > 0 {
			res.Fills[i].Value = avg
		}
	}
	res.MarketUnits = marketUnits
	res.Outcome = Placed
	return res, nil
}

// prorate gives the orders at idx up to room securities and returns how
// many it gave: in full if they fit, else by largest remainder.
func prorate(orders []Order, idx []int, room int64, fills []Fill) int64 {
	var demand int64
	for _, i := range idx {
		demand += orders[i].Units
	}
	if demand <= room {
		for _, i := range idx {
			fills[i].Units = orders[i].Units
		}
		return demand
	}
	type share struct {
		order     int
		remainder int64 // numerator over demand
	}
	shares := make([]share, len(idx))
	var given int64
	for k, i := range idx {
		exact := new(big.Int).Mul(big.NewInt(orders[i].Units), big.NewInt(room))
		q, r := new(big.Int).QuoRem(exact, big.NewInt(demand), new(big.Int))
		fills[i].Units = q.Int64()
		given += q.Int64()
		shares[k] = share{order: i, remainder: r.Int64()}
	}
	sort.SliceStable(shares, func(x, y int) bool { return shares[x].remainder > shares[y].remainder })
	for k := 0; given < room; k++ {
		fills[shares[k].order].Units++
		given++
	}
	return room
}

func (a Auction) better(x, y Percent) bool {
	if a.Subject == SubjectRate {
		return x < y
	}
	return x > y
}

func (a Auction) check() error {
	if a.Subject != SubjectPrice && a.Subject != SubjectRate {
		return fmt.Errorf("auction subject %d is neither price nor rate", int(a.Subject))
	}
	if a.Pricing != OwnPrice && a.Pricing != CutoffPrice {
		return fmt.Errorf("auction pricing %d is neither own price nor cut-off price", int(a.Pricing))
	}
	if a.Offered <= 0 {
		return fmt.Errorf("offered volume %d is not positive", a.Offered)
	}
	if a.Cutoff <= 0 {
		return fmt.Errorf("cut-off %s is not positive", a.Cutoff)
	}
	if a.MarketShare > 100*percentScale {
		return fmt.Errorf("market order share %s %% is more than 100 %%", a.MarketShare)
	}
	return nil
}

func (a Auction) checkOrder(o Order) error {
	if o.ID == "" {
		return fmt.Errorf("no id")
	}
	if o.Units <= 0 {
		return fmt.Errorf("volume %d securities is not positive", o.Units)
	}
	switch o.Type {
	case LimitOrder:
		if o.Value <= 0 {
			return fmt.Errorf("limit order without a price or rate")
		}
	case MarketOrder:
		if o.Value != 0 {
			return fmt.Errorf("market order carries a price or rate %s", o.Value)
		}
	default:
		return fmt.Errorf("order type %d is neither limit nor market", int(o.Type))
	}
	return nil
}
