package kasechannel

import (
	"strings"

	"github.com/minfin-kz/kopir/contracts/kase"
	"github.com/minfin-kz/kopir/contracts/kase/kasetypes"
)

// The JSON the subscribers receive. It describes the placement, not the
// exchange's wire format, so it stays when the exchange's real format
// replaces Köpir's. Every field of the document is carried; decimals are
// strings exactly as the exchange wrote them (prices, rates and yields to
// 4 decimals, amounts to 2), counts and quantities JSON integers.

// DemandSummary is the body of a DemandSummary document.
type DemandSummary struct {
	MessageType          string        `json:"messageType"` // DemandSummary
	MessageID            string        `json:"messageId"`
	CreationDateTime     string        `json:"creationDateTime"`
	AnnouncementID       string        `json:"announcementId"`
	Session              string        `json:"session"` // MAIN or ADDITIONAL
	Participants         uint32        `json:"participants"`
	Orders               *OrderCounts  `json:"orders"`
	Volumes              *OrderVolumes `json:"volumes"`
	DemandToOfferPercent string        `json:"demandToOfferPercent"`
	// Absent when no limit order was submitted.
	CleanPrice *PercentRange `json:"cleanPrice,omitempty"`
	Yield      *PercentRange `json:"yield,omitempty"`
}

// AuctionResult is the body of an AuctionResult document.
type AuctionResult struct {
	MessageType          string        `json:"messageType"` // AuctionResult
	MessageID            string        `json:"messageId"`
	CreationDateTime     string        `json:"creationDateTime"`
	AnnouncementID       string        `json:"announcementId"`
	Session              string        `json:"session"`
	TradeDate            string        `json:"tradeDate"`
	Outcome              string        `json:"outcome"` // PLACED, FAILED_BY_ISSUER or INVALID
	SettlementDate       string        `json:"settlementDate,omitempty"`
	Participants         uint32        `json:"participants"`
	Orders               *OrderCounts  `json:"orders"`
	ActiveOrders         *OrderCounts  `json:"activeOrders"`
	ActiveVolume         *Volume       `json:"activeVolume"`
	DemandToOfferPercent string        `json:"demandToOfferPercent"`
	CleanPrice           *PercentRange `json:"cleanPrice,omitempty"`
	Yield                *PercentRange `json:"yield,omitempty"`
	// Present when the outcome is PLACED.
	PlacedVolume         *Volume         `json:"placedVolume,omitempty"`
	CutoffPrice          string          `json:"cutoffPrice,omitempty"`
	CutoffYield          string          `json:"cutoffYield,omitempty"`
	WeightedAveragePrice string          `json:"weightedAveragePrice,omitempty"`
	WeightedAverageYield string          `json:"weightedAverageYield,omitempty"`
	InvestorShares       []InvestorShare `json:"investorShares"`
	Allocations          []Allocation    `json:"allocations"`
}

// OrderCounts are numbers of orders.
type OrderCounts struct {
	Total  uint32 `json:"total"`
	Limit  uint32 `json:"limit"`
	Market uint32 `json:"market"`
}

// OrderVolumes are the volumes of the orders, by type.
type OrderVolumes struct {
	Total  *Volume `json:"total"`
	Limit  *Volume `json:"limit"`
	Market *Volume `json:"market"`
}

// Volume is a volume in securities and in money.
type Volume struct {
	Units  uint64 `json:"units"`
	Amount string `json:"amount"`
}

// PercentRange is a price or yield range, in %.
type PercentRange struct {
	Min             string `json:"min"`
	Max             string `json:"max"`
	WeightedAverage string `json:"weightedAverage"`
}

// InvestorShare is one investor category's share of the placement.
type InvestorShare struct {
	InvestorType string `json:"investorType"`
	Percent      string `json:"percent"`
}

// Allocation is what one participant's order received.
type Allocation struct {
	ParticipantCode string `json:"participantCode"`
	OrderType       string `json:"orderType"` // LIMIT or MARKET
	Price           string `json:"price"`
	Yield           string `json:"yield"`
	Quantity        uint64 `json:"quantity"`
	Amount          string `json:"amount"`
}

// text reads an optional simple value; XML Schema collapses the
// whitespace around a decimal or a token, so the JSON does too.
func text[T ~string](v *T) string {
	if v == nil {
		return ""
	}
	return strings.TrimSpace(string(*v))
}

func num[T ~uint32 | ~uint64](v *T) T {
	if v == nil {
		return 0
	}
	return *v
}

func demandSummary(d *kasetypes.DemandSummary) *DemandSummary {
	return &DemandSummary{
		MessageType:          kase.DemandSummary,
		MessageID:            text(d.MessageId),
		CreationDateTime:     text(d.CreationDateTime),
		AnnouncementID:       text(d.AnnouncementId),
		Session:              text(d.Session),
		Participants:         uint32(num(d.Participants)),
		Orders:               orderCounts(d.Orders),
		Volumes:              orderVolumes(d.Volumes),
		DemandToOfferPercent: text(d.DemandToOfferPercent),
		CleanPrice:           percentRange(d.CleanPrice),
		Yield:                percentRange(d.Yield),
	}
}

func auctionResult(r *kasetypes.AuctionResult) *AuctionResult {
	out := &AuctionResult{
		MessageType:          kase.AuctionResult,
		MessageID:            text(r.MessageId),
		CreationDateTime:     text(r.CreationDateTime),
		AnnouncementID:       text(r.AnnouncementId),
		Session:              text(r.Session),
		TradeDate:            text(r.TradeDate),
		Outcome:              text(r.Outcome),
		SettlementDate:       text(r.SettlementDate),
		Participants:         uint32(num(r.Participants)),
		Orders:               orderCounts(r.Orders),
		ActiveOrders:         orderCounts(r.ActiveOrders),
		ActiveVolume:         volume(r.ActiveVolume),
		DemandToOfferPercent: text(r.DemandToOfferPercent),
		CleanPrice:           percentRange(r.CleanPrice),
		Yield:                percentRange(r.Yield),
		PlacedVolume:         volume(r.PlacedVolume),
		CutoffPrice:          text(r.CutoffPrice),
		CutoffYield:          text(r.CutoffYield),
		WeightedAveragePrice: text(r.WeightedAveragePrice),
		WeightedAverageYield: text(r.WeightedAverageYield),
		InvestorShares:       make([]InvestorShare, 0, len(r.InvestorShare)),
		Allocations:          make([]Allocation, 0, len(r.Allocation)),
	}
	for _, s := range r.InvestorShare {
		out.InvestorShares = append(out.InvestorShares, InvestorShare{InvestorType: text(s.InvestorType), Percent: text(s.Percent)})
	}
	for _, a := range r.Allocation {
		out.Allocations = append(out.Allocations, Allocation{
			ParticipantCode: text(a.ParticipantCode), OrderType: text(a.OrderType), Price: text(a.Price),
			Yield: text(a.Yield), Quantity: uint64(num(a.Quantity)), Amount: text(a.Amount),
		})
	}
	return out
}

func orderCounts(c *kasetypes.OrderCounts) *OrderCounts {
	if c == nil {
		return nil
	}
	return &OrderCounts{Total: uint32(num(c.Total)), Limit: uint32(num(c.Limit)), Market: uint32(num(c.Market))}
}

func orderVolumes(v *kasetypes.OrderVolumes) *OrderVolumes {
	if v == nil {
		return nil
	}
	return &OrderVolumes{Total: volume(v.Total), Limit: volume(v.Limit), Market: volume(v.Market)}
}

func volume(v *kasetypes.Volume) *Volume {
	if v == nil {
		return nil
	}
	return &Volume{Units: uint64(num(v.Units)), Amount: text(v.Amount)}
}

func percentRange(p *kasetypes.PercentRange) *PercentRange {
	if p == nil {
		return nil
	}
	return &PercentRange{Min: text(p.Min), Max: text(p.Max), WeightedAverage: text(p.WeightedAverage)}
}
