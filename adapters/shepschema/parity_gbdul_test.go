package shepschema_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	_ "github.com/minfin-kz/kopir/adapters/gbdul"
	"github.com/minfin-kz/kopir/internal/kzid"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/mocks"
	_ "github.com/minfin-kz/kopir/mocks/gbdul"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

const demoSigning = "signing: {cert: ../../mocks/pki/kopir.pem, key: ../../mocks/pki/kopir.key}\n"

// gbdulSchemaOpts is gbdul.report3005 as a schema-driven route over GBD
// UL's own 30.05 XSD, signed with the same key through the same signing
// provider (egov's options are the shep adapter's too). The service header
// the hand-written adapter writes itself is given by fill, its success
// code by result.
const gbdulSchemaOpts = `serviceId: GbdulReport3005_KDP
senderId: kopir
password: kopir-secret
request:  {schema: ../../contracts/gbdul/report3005-RequestAndResponse.xsd, element: "{http://3005_kdp.reports.egp.gbdul.tamur.kz}request"}
response: {schema: ../../contracts/gbdul/report3005-RequestAndResponse.xsd, element: "{http://3005_kdp.reports.egp.gbdul.tamur.kz}response"}
fill: {requestNumber: messageId, declarantId: "const:000740000728", requestDate: now, requestSystemId: senderId}
checks: {bin: [request/businessData/BIN]}
result: {path: status/Code, ok: ["002"]}
` + demoSigning

const gbdulHandOpts = "senderId: kopir\npassword: kopir-secret\ndeclarantId: \"000740000728\"\n" + demoSigning

// signedOnlyGateway is the mock gateway refusing unsigned envelopes, so
// both routes are shown to sign.
func signedOnlyGateway(t *testing.T) string {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}, shepgw.Options{RequireSignature: true}))
	t.Cleanup(srv.Close)
	return srv.URL + "/shep/sync"
}

func validBIN(t *testing.T, first11 string) string {
	t.Helper()
	d, ok := kzid.CheckDigit(first11)
	if !ok {
		t.Fatalf("%s has no check digit", first11)
	}
	return first11 + string(rune('0'+d))
}

// TestParityWithTheHandWrittenGBDUL: the schema-driven route's request is
// signed and accepted by the mock registry, and its answer, decoded by
// both adapters, carries the same values field for field. The report
// number is drawn afresh by the mock for every answer, so the two adapters
// read one and the same answer rather than one each. The differences are
// the hand-written adapter's choices (docs/adapters/shep-schema.md):
// it asks {"bin"} rather than the schema's businessData.BIN, flattens
// businessData.Organization to organization with shorter names, spells
// OrgFormCode as a word, joins FIO into the person, drops the service
// header and status, and answers 404 where the registry has no
// organisation.
func TestParityWithTheHandWrittenGBDUL(t *testing.T) {
	url := signedOnlyGateway(t)
	hand := adaptertest.NewAdapter(t, "gbdul", "report3005", gbdulHandOpts)
	schema := adaptertest.NewAdapter(t, "shep", "sync", gbdulSchemaOpts)
	ctx := context.Background()

	// The mock reads the form from the BIN's sixth digit: legal entities
	// (0), a branch (1), a representative office (2); their hashes give
	// answers with and without a re-registration.
	for _, bin := range []string{validBIN(t, "00074000072"), validBIN(t, "15124000123"), validBIN(t, "05034100452"), validBIN(t, "07054200981")} {
		t.Run(bin, func(t *testing.T) {
			sreq := &adapters.Request{Route: "r", Operation: "sync", MessageID: "5d3c1e52-2a3c-4c2e-9a1f-0e6a7b8c9d01",
				Body: []byte(`{"businessData":{"BIN":"` + bin + `"}}`)}
			if err := schema.(adapters.Validator).Validate(ctx, sreq); err != nil {
				t.Fatal(err)
			}
			w, err := schema.Encode(ctx, sreq)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(w.Body, []byte(xmlsig.NSWSSE)) {
				t.Fatal("the schema route's envelope is not signed")
			}
			answer := post(t, url, w)
			sr, err := schema.Decode(ctx, sreq, answer)
			if err != nil {
				t.Fatalf("%v\n%s", err, answer.Body)
			}
			hreq := &adapters.Request{MessageID: sreq.MessageID, Body: []byte(`{"bin":"` + bin + `"}`)}
			hr, err := hand.Decode(ctx, hreq, answer)
			if err != nil {
				t.Fatal(err)
			}
			var hj, sj map[string]any
			json.Unmarshal(hr.Body, &hj)
			json.Unmarshal(sr.Body, &sj)

			if at(sj, "requestNumber") != sreq.MessageID || at(sj, "declarantId") != "000740000728" || at(sj, "requestSystemId") != "kopir" {
				t.Errorf("the mock echoes the filled header: %s", sr.Body)
			}
			bd := at(sj, "businessData").(map[string]any)
			org := at(bd, "Organization").(map[string]any)
			corresponding := []struct{ hand, schema string }{
				{"reportNumber", "ReportNumber"},
				{"organization.bin", "Organization.BIN"},
				{"organization.nameRu", "Organization.OrganizationNameRu"},
				{"organization.nameKz", "Organization.OrganizationNameKz"},
				{"organization.registrationDate", "Organization.RegistrationDate"},
				{"organization.lastRegistrationDate", "Organization.RegistrationLastDate"},
				{"organization.registrationDepartment.code", "Organization.RegistrationDepartment.Code"},
				{"organization.registrationDepartment.nameRu", "Organization.RegistrationDepartment.NameRu"},
				{"organization.registrationDepartment.nameKz", "Organization.RegistrationDepartment.NameKz"},
				{"organization.leader.iin", "Organization.OrganizationLeader.IIN"},
				{"organization.leader.lastName", "Organization.OrganizationLeader.FIO.SurName"},
				{"organization.leader.firstName", "Organization.OrganizationLeader.FIO.Name"},
				{"organization.leader.middleName", "Organization.OrganizationLeader.FIO.MiddleName"},
				{"organization.leader.positionRu", "Organization.OrganizationLeader.PositionInfo.NameRu"},
				{"organization.leader.positionKz", "Organization.OrganizationLeader.PositionInfo.NameKz"},
				{"organization.leader.appointedAt", "Organization.OrganizationLeader.PositionInfo.AppointmentDate"},
				{"organization.foundersCount", "Organization.FoundersCount"},
				{"organization.activityRu", "Organization.ActivityTypeNameRu"},
				{"organization.activityKz", "Organization.ActivityTypeNameKz"},
				{"organization.address.rka", "Organization.LegalAddress.RKA"},
				{"organization.address.nameRu", "Organization.LegalAddress.NameRu"},
				{"organization.address.nameKz", "Organization.LegalAddress.NameKz"},
			}
			for _, c := range corresponding {
				hv, sv := at(hj, c.hand), at(bd, c.schema)
				if hv == nil && sv == nil && c.hand == "organization.lastRegistrationDate" {
					continue // not re-registered: absent from both
				}
				if hv == nil || hv != sv {
					t.Errorf("%s = %v by hand, %s = %v by schema", c.hand, hv, c.schema, sv)
				}
			}
			form := map[float64]string{1: "legalEntity", 2: "branch", 3: "representativeOffice"}[org["OrgFormCode"].(float64)]
			if at(hj, "organization.form") != form {
				t.Errorf("form %v by hand, OrgFormCode %v by schema", at(hj, "organization.form"), org["OrgFormCode"])
			}
			founders, sf := at(hj, "organization.foundersPersons").([]any), org["FoundersFL"].([]any)
			if len(founders) != len(sf) {
				t.Fatalf("%d founders by hand, %d by schema", len(founders), len(sf))
			}
			for i := range sf {
				for _, c := range [][2]string{{"iin", "IIN"}, {"lastName", "FIO.SurName"}, {"firstName", "FIO.Name"}, {"middleName", "FIO.MiddleName"}} {
					if hv, sv := at(founders[i], c[0]), at(sf[i], c[1]); hv == nil || hv != sv {
						t.Errorf("founder %d: %s = %v by hand, %s = %v by schema", i, c[0], hv, c[1], sv)
					}
				}
			}
			deals, sd := hj["registrationDeals"].([]any), bd["RegisterDeals"].([]any)
			if len(deals) != len(sd) || len(sd) == 0 {
				t.Fatalf("%d deals by hand, %d by schema", len(deals), len(sd))
			}
			for i := range sd {
				for _, c := range [][2]string{{"code", "RegisterDealTypeId"}, {"nameRu", "RegisterDealTypeNameRu"}, {"nameKz", "RegisterDealTypeNameKz"},
					{"date", "RegisterDealTypeDate"}, {"noticeRu", "NoticeRu"}, {"noticeKz", "NoticeKz"}} {
					if hv, sv := at(deals[i], c[0]), at(sd[i], c[1]); hv != sv {
						t.Errorf("deal %d: %s = %v by hand, %s = %v by schema", i, c[0], hv, c[1], sv)
					}
				}
			}
			// Every field of the hand-written answer is accounted for.
			accounted := map[string]bool{"organization.form": true, "organization.foundersPersons": true, "registrationDeals": true}
			for _, c := range corresponding {
				accounted[c.hand] = true
			}
			for _, k := range leaves(hj, "") {
				if !accounted[k] {
					t.Errorf("field %s of the hand-written answer has no counterpart in the parity table", k)
				}
			}
		})
	}

	// No organisation with the BIN (the mock's serial 00000): the
	// hand-written adapter says 404, the schema route passes the
	// registry's processed answer without businessData.
	missing := validBIN(t, "00074000000")
	_, herr := call(t, hand, url, `{"bin":"`+missing+`"}`)
	var ae *adapters.Error
	if !errors.As(herr, &ae) || ae.Status != 404 {
		t.Errorf("hand-written, no such organisation: %v", herr)
	}
	s, err := call(t, schema, url, `{"businessData":{"BIN":"`+missing+`"}}`)
	if err != nil || strings.Contains(string(s), `"businessData"`) || !strings.Contains(string(s), `"Code":"002"`) {
		t.Errorf("schema route, no such organisation: %s %v", s, err)
	}
	// Both refuse a BIN with a wrong check digit before any call, naming
	// the field in their own shape.
	bad := missing[:11] + string(rune('0'+(missing[11]-'0'+1)%10))
	for _, c := range []struct {
		a           adapters.Adapter
		body, field string
	}{{hand, `{"bin":"` + bad + `"}`, "bin"}, {schema, `{"businessData":{"BIN":"` + bad + `"}}`, "businessData.BIN"}} {
		_, err := call(t, c.a, url, c.body)
		if !errors.As(err, &ae) || ae.Status != 422 || ae.Field != c.field {
			t.Errorf("bad BIN %s: %v", c.body, err)
		}
	}
}

// leaves lists the dotted paths of v's non-array leaves and of its arrays.
func leaves(v any, prefix string) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return []string{prefix}
	}
	var out []string
	for k, x := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		out = append(out, leaves(x, p)...)
	}
	return out
}
