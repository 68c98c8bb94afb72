// Package ekyzmet simulates e-Kyzmet, the civil-service HR system, behind
// the mock SHEP gateway: serviceId EKyzmetUniversalService on the
// SyncChannel. It dispatches by the Request's serviceName, checks the keys
// and that the value lists are parallel, the IINs and BINs, and answers as
// the public sample does (SCSS001, an empty Response) or with an error
// status in responseInfo (contracts/ekyzmet: ERR001, ERR002, ERR404). Its
// faults and log are the control API's mock "ekyzmet", keyed by the SHEP
// messageId (e-Kyzmet's Request carries none of its own).
package ekyzmet

import (
	"fmt"
	"strconv"
	"time"

	"github.com/minfin-kz/kopir/contracts/ekyzmet"
	"github.com/minfin-kz/kopir/internal/kzid"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

// Name is the mock's name in the control API.
const Name = "ekyzmet"

// Options configure the e-Kyzmet mock; hand them to mocks.New.
type Options struct {
	// NotFound reports the IINs e-Kyzmet has no civil servant for, asked
	// for decision invitations and personnel reports about valid IINs.
	// Default: a 4-digit serial (digits 8-11) of 0000, as the GBD FL mock.
	NotFound func(iin string) bool
}

func init() {
	shepgw.Register(ekyzmet.ServiceID, shepgw.Service{Provider: "EKYZMET", Mock: Name, Answer: answer})
}

// response is responseData/data for every answer: the sample's empty
// Response, whatever the status.
var response = []byte(`<data><Response/></data>`)

// answer checks the Request and sets the status. Faults are injected first:
// an e-Kyzmet that is down fails whatever it is sent.
func answer(c *shepgw.Call) ([]byte, bool) {
	if !c.Injected(c.MessageID) {
		return nil, false
	}
	code, msg := check(c)
	if code != ekyzmet.StatusSuccess {
		c.SetStatus(code, msg)
	}
	return response, true
}

// check returns the status e-Kyzmet answers the call with.
func check(c *shepgw.Call) (code, msg string) {
	req, err := ekyzmet.ParseRequest([]byte(c.Data))
	if err != nil {
		return ekyzmet.StatusInvalidParams, "Request: " + err.Error()
	}
	if _, ok := ekyzmet.Services[req.ServiceName]; !ok {
		return ekyzmet.StatusUnknownService, fmt.Sprintf("unknown serviceName %q", req.ServiceName)
	}
	n, err := req.RowCount()
	if err != nil {
		return ekyzmet.StatusInvalidParams, err.Error()
	}
	switch req.ServiceName {
	case ekyzmet.ServiceACSEvents:
		err = checkACS(req, n)
	case ekyzmet.ServiceDecisionInvitation:
		err = checkIIN(req, ekyzmet.KeyIIN, 0)
	case ekyzmet.ServicePersonnelReport:
		err = checkPersonnel(req)
	}
	if err != nil {
		return ekyzmet.StatusInvalidParams, err.Error()
	}
	if req.ServiceName != ekyzmet.ServiceACSEvents {
		iin := one(req, ekyzmet.KeyIIN)
		notFound := mocks.ConfigOf[Options](c.Server()).NotFound
		if notFound == nil {
			notFound = defaultNotFound
		}
		if notFound(iin) {
			return ekyzmet.StatusNotFound, "civil servant with this IIN is not on record"
		}
	}
	return ekyzmet.StatusSuccess, ""
}

// defaultNotFound is only asked about valid IINs.
func defaultNotFound(iin string) bool { return iin[7:11] == "0000" }

func checkACS(req *ekyzmet.Request, n int) error {
	iins, _ := req.Values(ekyzmet.KeyACSIIN)
	rfids, hasRFID := req.Values(ekyzmet.KeyACSRFID)
	times, _ := req.Values(ekyzmet.KeyACSTime)
	floors, _ := req.Values(ekyzmet.KeyACSFloor)
	for i := range n {
		switch {
		case hasRFID && iins[i] == "" && rfids[i] == "":
			return fmt.Errorf("event %d: neither ИИН nor RFID", i+1)
		case hasRFID && iins[i] == "":
		default:
			if err := checkIIN(req, ekyzmet.KeyACSIIN, i); err != nil {
				return err
			}
		}
		if _, err := time.Parse(time.RFC3339, times[i]); err != nil {
			return fmt.Errorf("event %d: Время %q is not an RFC 3339 date-time", i+1, times[i])
		}
		if err := checkBIN(req, ekyzmet.KeyACSBIN, i); err != nil {
			return err
		}
		if _, err := strconv.Atoi(floors[i]); err != nil {
			return fmt.Errorf("event %d: Номер этажа %q is not a number", i+1, floors[i])
		}
	}
	return nil
}

func checkPersonnel(req *ekyzmet.Request) error {
	if err := checkIIN(req, ekyzmet.KeyIIN, 0); err != nil {
		return err
	}
	if err := checkBIN(req, ekyzmet.KeyBIN, 0); err != nil {
		return err
	}
	start, err := time.Parse(time.DateOnly, one(req, ekyzmet.KeyStartDate))
	if err != nil {
		return fmt.Errorf("startDate: %w", err)
	}
	if end, ok := req.Values(ekyzmet.KeyEndDate); ok {
		e, err := time.Parse(time.DateOnly, end[0])
		if err != nil {
			return fmt.Errorf("endDate: %w", err)
		}
		if e.Before(start) {
			return fmt.Errorf("endDate is before startDate")
		}
	}
	return nil
}

func checkIIN(req *ekyzmet.Request, key string, i int) error {
	v, _ := req.Values(key)
	if err := kzid.ValidateIIN(v[i]); err != nil {
		return fmt.Errorf("%s value %d: %w", key, i+1, err)
	}
	return nil
}

func checkBIN(req *ekyzmet.Request, key string, i int) error {
	v, _ := req.Values(key)
	if err := kzid.ValidateBIN(v[i]); err != nil {
		return fmt.Errorf("%s value %d: %w", key, i+1, err)
	}
	return nil
}

// one is the single value of a key RowCount has checked.
func one(req *ekyzmet.Request, key string) string {
	v, _ := req.Values(key)
	return v[0]
}
