// Package gbdul simulates GBD UL, the state database of legal entities,
// behind the mock SHEP gateway: it answers report 30.05 (all registration
// actions of a legal entity) on both channels. Its faults and log are the
// control API's mock "gbdul", keyed by the SHEP messageId.
package gbdul

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/contracts/gbdul/ultypes"
	"github.com/minfin-kz/kopir/internal/kzid"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/gbdfl"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

// ServiceID is the serviceId of report 30.05 on the gateway.
const ServiceID = "GbdulReport3005_KDP"

// Name is the mock's name in the control API.
const Name = "gbdul"

// NS3005 is report 30.05's namespace.
const NS3005 = "http://3005_kdp.reports.egp.gbdul.tamur.kz"

// GBD UL status codes the mock answers with. 002 is what GBD UL's by-BIN
// service answers in public integrations; 30.05's own codes are not
// published.
const (
	StatusOK = "002"
)

// Options configure the GBD UL mock; hand them to mocks.New.
type Options struct {
	// NotFound reports the BINs GBD UL has no entity for (asked about
	// valid BINs only). Default: a 5-digit serial of 00000.
	NotFound func(bin string) bool
}

func init() {
	shepgw.Register(ServiceID, shepgw.Service{Provider: "GBDUL", Mock: Name, Answer: answer})
}

// answer takes a 30.05 <request> in <data>.
func answer(c *shepgw.Call) ([]byte, bool) {
	var d struct {
		Request *ultypes.RequestMessage `xml:"request"`
	}
	if err := c.Decode(&d); err != nil {
		c.BadRequest(err.Error())
		return nil, false
	}
	if !c.Injected(c.MessageID) {
		return nil, false
	}
	notFound := mocks.ConfigOf[Options](c.Server()).NotFound
	if notFound == nil {
		notFound = defaultNotFound
	}
	data, err := reportData(d.Request, notFound, c.Now())
	if err != nil {
		c.BadRequest(err.Error())
		return nil, false
	}
	return data, true
}

// The fake registry: every valid BIN is an organisation whose form and
// registration month are those the BIN encodes, and whose names, leader
// and registration actions are picked by a hash of it.

func defaultNotFound(bin string) bool { return bin[6:11] == "00000" }

var (
	orgWords  = []string{"АЛТЫН", "САМРУК", "ДАЛА", "ЖУЛДЫЗ", "КАСПИЙ", "БАЙТЕРЕК", "ТАБЫС", "НҰР", "АҚ ЖОЛ", "ЕЛ ТЕХ"}
	orgKinds  = [][2]string{{"ТОО", "ЖШС"}, {"АО", "АҚ"}, {"ГУ", "ММ"}}
	deptNames = [][2]string{{"Департамент юстиции города Астаны", "Астана қаласының Әділет департаменті"}, {"Департамент юстиции города Алматы", "Алматы қаласының Әділет департаменті"}}
)

// reportData answers a 30.05 request with <data> holding <response>.
func reportData(req *ultypes.RequestMessage, notFound func(bin string) bool, now time.Time) ([]byte, error) {
	if req == nil || req.BusinessData == nil || req.BusinessData.BIN == "" {
		return nil, fmt.Errorf("GBD UL 30.05 request without businessData/BIN")
	}
	resp := &ultypes.ResponseMessage{BaseResponseMessage: &ultypes.BaseResponseMessage{
		RequestDate: soap.CreateXsdDateTime(now, true),
		Status:      &ultypes.StatusType{Code: StatusOK, NameRu: "Запрос обработан успешно", NameKz: "Сұраным сәтті өңделді"},
	}}
	if b := req.BaseRequestMessage; b != nil {
		resp.RequestNumber, resp.DeclarantId, resp.RequestSystemId = b.RequestNumber, b.DeclarantId, b.RequestSystemId
	}
	bin := req.BusinessData.BIN
	if kzid.ValidateBIN(bin) == nil && !notFound(bin) {
		resp.BusinessData = fakeOrganization(bin)
	}
	var buf bytes.Buffer
	buf.WriteString(`<data>`)
	enc := xml.NewEncoder(&buf)
	if err := enc.EncodeElement(resp, xml.StartElement{Name: xml.Name{Space: NS3005, Local: "response"}}); err != nil {
		return nil, err
	}
	if err := enc.Flush(); err != nil {
		return nil, err
	}
	buf.WriteString(`</data>`)
	return buf.Bytes(), nil
}

func fakeOrganization(bin string) *ultypes.ResponseType {
	h := fnv.New64a()
	h.Write([]byte(bin))
	x := h.Sum64()
	yy, _ := strconv.Atoi(bin[0:2])
	mm, _ := strconv.Atoi(bin[2:4])
	year := 2000 + yy
	if year > time.Now().Year() {
		year -= 100
	}
	reg := time.Date(year, time.Month(mm), 1+int(x%27), 0, 0, 0, 0, time.UTC)
	form := int32(1)
	switch bin[5] {
	case '1':
		form = 2
	case '2':
		form = 3
	}
	kind := orgKinds[(x>>8)%uint64(len(orgKinds))]
	word := orgWords[(x>>16)%uint64(len(orgWords))]
	dept := deptNames[(x>>24)%uint64(len(deptNames))]
	leaderIIN := fakeIIN(x)
	lp := gbdfl.PersonFor(leaderIIN)
	org := &ultypes.OrganizationType{
		OrgFormCode:            form,
		BIN:                    bin,
		OrganizationNameRu:     kind[0] + " «" + word + "»",
		OrganizationNameKz:     "«" + word + "» " + kind[1],
		RegistrationDepartment: &ultypes.DirectoryType{Code: "19" + bin[8:10], NameRu: dept[0], NameKz: dept[1]},
		RegistrationDate:       soap.CreateXsdDate(reg, false),
		OrganizationLeader: &ultypes.PersonLeaderType{
			FIO:          &ultypes.FIOType{SurName: lp.Surname, Name: lp.Name, MiddleName: lp.Patronymic},
			PositionInfo: &ultypes.PositionInfoType{NameRu: "Директор", NameKz: "Директор", AppointmentDate: soap.CreateXsdDate(reg, false)},
			IIN:          leaderIIN,
		},
		FoundersFL:         []*ultypes.PersonType{{FIO: &ultypes.FIOType{SurName: lp.Surname, Name: lp.Name, MiddleName: lp.Patronymic}, IIN: leaderIIN}},
		FoundersCount:      1,
		ActivityTypeNameRu: "Деятельность в области информационных технологий",
		ActivityTypeNameKz: "Ақпараттық технологиялар саласындағы қызмет",
		LegalAddress:       &ultypes.AddressType{RKA: "02" + bin[1:12] + "00", NameRu: "г. Астана, район Есиль, ул. Сыганак, " + strconv.Itoa(1+int(x%60)), NameKz: "Астана қ., Есіл ауданы, Сығанақ к-сі, " + strconv.Itoa(1+int(x%60))},
	}
	deals := []*ultypes.RegisterDeal{{
		RegisterDealTypeId: "1", RegisterDealTypeNameRu: "Государственная регистрация", RegisterDealTypeNameKz: "Мемлекеттік тіркеу",
		RegisterDealTypeDate: soap.CreateXsdDate(reg, false),
	}}
	if x%3 != 0 {
		re := reg.AddDate(2+int(x%5), 0, 0)
		org.RegistrationLastDate = soap.CreateXsdDate(re, false)
		deals = append(deals, &ultypes.RegisterDeal{
			RegisterDealTypeId: "2", RegisterDealTypeNameRu: "Государственная перерегистрация", RegisterDealTypeNameKz: "Мемлекеттік қайта тіркеу",
			RegisterDealTypeDate: soap.CreateXsdDate(re, false), NoticeRu: "изменение наименования", NoticeKz: "атауының өзгеруі",
		})
	}
	return &ultypes.ResponseType{ReportNumber: "3005-" + uuid.NewString()[:8], Organization: org, RegisterDeals: deals}
}

// fakeIIN makes a valid IIN of someone born 1960-1999, picked by x.
func fakeIIN(x uint64) string {
	birth := time.Date(1960+int(x%40), time.Month(1+(x>>6)%12), 1+int((x>>10)%28), 0, 0, 0, 0, time.UTC)
	century := byte('3' + (x>>14)%2) // 3 man, 4 woman: born 1900-1999
	for serial := (x >> 16) % 9000; ; serial++ {
		first := fmt.Sprintf("%s%c%04d", birth.Format("060102"), century, 1000+serial%9000)
		if d, ok := kzid.CheckDigit(first); ok {
			return first + strconv.Itoa(d)
		}
	}
}
