package csd

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/securities"
	"github.com/minfin-kz/kopir/internal/safexml"
)

// HoldersRequest is the internal JSON of securities.holders.
type HoldersRequest struct {
	ISIN string `json:"isin"`
	Date string `json:"date"` // the record date, a business day
}

// Holders is the answer: who held the issue at the close of Date, as the
// depository's semt.002 says.
type Holders struct {
	ISIN    string   `json:"isin"`
	Date    string   `json:"date"`
	Holders []Holder `json:"holders"`
	// Total is the sum of the quantities, exactly.
	Total string `json:"total"`
}

// Holder is one safekeeping account's balance. Quantity is the decimal as
// the statement gives it: a number of securities (Unit) or, when the
// depository counts in face amount, tenge of face value (FaceAmt).
type Holder struct {
	Account  string `json:"account"`
	Owner    string `json:"owner,omitempty"`
	Quantity string `json:"quantity"`
}

func (a *Adapter) holdersQuery(req *adapters.Request) (url.Values, error) {
	var in HoldersRequest
	if err := adapters.DecodeStrict(req.Body, &in); err != nil {
		return nil, err
	}
	if err := securities.ValidateISIN(in.ISIN); err != nil {
		return nil, adapters.Invalid("isin", "%v", err)
	}
	d, err := securities.ParseDate(in.Date)
	if err != nil {
		return nil, adapters.Invalid("date", "%v", err)
	}
	if !a.cal.IsBusinessDay(d) {
		return nil, adapters.Invalid("date", "%s is not a business day: holders are recorded at the close of one", in.Date)
	}
	req.Subject = in.ISIN
	return url.Values{"isin": {in.ISIN}, "date": {in.Date}}, nil
}

// holdingsLimits bound what a statement may be: a register of a few
// thousand accounts is well inside them.
var holdingsLimits = safexml.Limits{MaxBytes: 32 << 20, MaxDepth: 64, MaxTokens: 4_000_000}

func (a *Adapter) decodeHolders(req *adapters.Request, resp *adapters.WireResponse) (*adapters.Response, error) {
	var in HoldersRequest
	_ = adapters.DecodeStrict(req.Body, &in) // checked by Validate
	if resp.StatusCode == http.StatusNotFound {
		return nil, &adapters.Error{Status: http.StatusNotFound, Field: "isin", Code: "UNKNOWN_ISIN",
			Detail: fmt.Sprintf("the depository knows no issue with ISIN %s", in.ISIN)}
	}
	if err := transportError(resp); err != nil {
		return nil, err
	}
	msg, err := isodoc.Parse(resp.Body, []string{isodoc.Semt002}, holdingsLimits)
	if err != nil {
		var pe *isodoc.ParseError
		if errors.As(err, &pe) {
			return nil, &adapters.Error{Status: http.StatusBadGateway, Code: pe.Code, Detail: "depository's holdings statement: " + pe.Error()}
		}
		return nil, err
	}
	var doc Node
	if err := msg.Decode(&doc); err != nil {
		return nil, &adapters.Error{Status: http.StatusBadGateway, Code: isodoc.CodeSchemaInvalid, Detail: "depository's holdings statement: " + err.Error()}
	}
	out, err := ReadHoldings(&doc, in.ISIN)
	if err != nil {
		return nil, &adapters.Error{Status: http.StatusBadGateway, Code: "UNEXPECTED_STATEMENT", Detail: err.Error()}
	}
	if out.Date == "" {
		out.Date = in.Date
	}
	if out.Date != in.Date {
		return nil, &adapters.Error{Status: http.StatusBadGateway, Code: "UNEXPECTED_STATEMENT",
			Detail: fmt.Sprintf("asked for holders at %s, the depository's statement is dated %s", in.Date, out.Date)}
	}
	return jsonResponse(out)
}

// ReadHoldings lists the holders of isin in a semt.002 Document. A holder
// is a sub-account (SubAcctDtls: safekeeping account, owner, balance of
// isin), as a depository reports the accounts under the issue; a
// statement without sub-accounts is one account's own balance
// (SfkpgAcct, AcctOwnr, BalForAcct).
func ReadHoldings(doc *Node, isin string) (*Holders, error) {
	rpt := doc.Get("SctiesBalCtdyRpt")
	if rpt == nil {
		return nil, errors.New("statement has no SctiesBalCtdyRpt")
	}
	out := &Holders{ISIN: isin, Holders: []Holder{}}
	if d := rpt.Get("StmtGnlDtls/StmtDtTm"); d != nil {
		out.Date = d.First("Dt", "DtTm")
		if len(out.Date) > 10 {
			out.Date = out.Date[:10]
		}
	}
	var quantities []string
	add := func(acct *Node, owner *Node, balances []*Node) {
		for _, b := range balances {
			if b.Value("FinInstrmId/ISIN") != isin {
				continue
			}
			q := b.Get("AggtBal/Qty/Qty/Qty")
			qty := q.First("Unit", "FaceAmt", "AmtsdVal")
			if qty == "" {
				continue
			}
			out.Holders = append(out.Holders, Holder{Account: acct.Value("Id"), Owner: partyName(owner), Quantity: qty})
			quantities = append(quantities, qty)
		}
	}
	subs := rpt.All("SubAcctDtls")
	for _, s := range subs {
		add(s.Get("SfkpgAcct"), s.Get("AcctOwnr"), s.All("BalForSubAcct"))
	}
	if len(subs) == 0 {
		add(rpt.Get("SfkpgAcct"), rpt.Get("AcctOwnr"), rpt.All("BalForAcct"))
	}
	total, ok := sumDecimals(quantities)
	if !ok {
		return nil, fmt.Errorf("statement has a quantity that is not a decimal: %v", quantities)
	}
	out.Total = total
	return out, nil
}

// partyName is how an account owner is identified: a BIC, a proprietary
// id (the depository's participant code), or an LEI.
func partyName(p *Node) string {
	return p.First("Id/AnyBIC", "Id/PrtryId/Id", "LEI", "Id/NmAndAdr/Nm")
}
