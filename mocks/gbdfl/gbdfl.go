// Package gbdfl simulates GBD FL, the state database of individuals,
// behind the mock SHEP gateway: it answers serviceId
// GBDFL_UniversalServiceSync on both channels. Its faults and log are the
// control API's mock "gbdfl", keyed by the messageId of the GBD FL request
// (the SHEP messageId when it has none): what GBD FL itself would see.
//
// The fake registry: every valid IIN is a person whose birth date and sex
// are those the IIN encodes and whose names are picked by a hash of it, so
// the same IIN always gives the same person without storing anyone.
package gbdfl

import (
	"hash/fnv"
	"time"

	"github.com/google/uuid"

	"github.com/minfin-kz/kopir/contracts/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/internal/kzid"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

// ServiceID is the serviceId GBD FL answers on the gateway.
const ServiceID = "GBDFL_UniversalServiceSync"

// Name is the mock's name in the control API.
const Name = "gbdfl"

// Options configure the GBD FL mock; hand them to mocks.New.
type Options struct {
	// NotFound reports the IINs GBD FL has no person for; it is asked only
	// about valid IINs (invalid ones are never found). Default: a 4-digit
	// serial (digits 8-11) of 0000.
	NotFound func(iin string) bool
}

func init() {
	shepgw.Register(ServiceID, shepgw.Service{Provider: "GBDFL", Mock: Name, Answer: answer})
}

// answer takes a Request in <data>. A GBD FL that is down fails whatever
// it is sent, so faults are injected before the request is checked.
func answer(c *shepgw.Call) ([]byte, bool) {
	var req fltypes.Request
	if err := c.Decode(&req); err != nil {
		c.BadRequest(err.Error())
		return nil, false
	}
	key := req.MessageId
	if key == "" {
		key = c.MessageID
	}
	if !c.Injected(key) {
		return nil, false
	}
	if req.Iin == "" {
		c.BadRequest("GBD FL request without iin")
		return nil, false
	}
	notFound := mocks.ConfigOf[Options](c.Server()).NotFound
	if notFound == nil {
		notFound = defaultNotFound
	}
	missing := kzid.ValidateIIN(req.Iin) != nil || notFound(req.Iin)
	return appendPersonData(make([]byte, 0, 2048), &req, missing, c.Now()), true
}

// defaultNotFound is only asked about valid IINs.
func defaultNotFound(iin string) bool { return iin[7:11] == "0000" }

var (
	surnames   = []string{"АХМЕТОВ", "ЖУМАБАЕВ", "СЕРИКБАЕВ", "ИСКАКОВ", "НУРПЕИСОВ", "КАСЫМОВ", "ОМАРОВ", "ТОКТАРОВ", "БЕКОВ", "САПАРОВ", "ИВАНОВ", "КИМ"}
	maleNames  = []string{"АЙДАР", "ЕРЛАН", "НУРЛАН", "АСХАТ", "ДАНИЯР", "ТИМУР", "АРМАН", "БАУЫРЖАН", "СЕРГЕЙ", "АЛЕКСАНДР"}
	femNames   = []string{"АЙГЕРИМ", "ДИНАРА", "АСЕЛЬ", "ЖАНАР", "САУЛЕ", "ГУЛЬНАР", "АЙНУР", "МАДИНА", "ЕЛЕНА", "ОЛЬГА"}
	fatherBase = []string{"СЕРИК", "БОЛАТ", "КАЙРАТ", "МАРАТ", "ЕРЖАН", "ТАЛГАТ", "АСКАР", "НУРЛАН", "ИВАН", "ПЕТР"}
)

// Person is who the fake registry has under an IIN.
type Person struct {
	Surname, Name, Patronymic string
	Birth                     time.Time
	Female                    bool
}

// PersonFor is the person under a valid IIN, the same every time: other
// mocks name people with it so that they agree with GBD FL.
func PersonFor(iin string) Person {
	h := fnv.New64a()
	h.Write([]byte(iin))
	x := h.Sum64()
	birth, _ := kzid.IINBirthDate(iin)
	p := Person{Birth: birth, Female: kzid.IINFemale(iin)}
	p.Surname = surnames[x%uint64(len(surnames))]
	father := fatherBase[(x>>16)%uint64(len(fatherBase))]
	if p.Female {
		if p.Surname != "КИМ" {
			p.Surname += "А"
		}
		p.Name = femNames[(x>>32)%uint64(len(femNames))]
		p.Patronymic = father + "ОВНА"
	} else {
		p.Name = maleNames[(x>>32)%uint64(len(maleNames))]
		p.Patronymic = father + "ОВИЧ"
	}
	return p
}

const (
	dataOpen     = `<data xmlns:ns3="http://message.persistence.interactive.nat" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="ns3:Response"><messageId>`
	senderGBDFL  = `<sender><code>GBDFL</code><nameRu>ГБД ФЛ</nameRu><nameKz>ЖТ МДБ</nameKz></sender>`
	resultOK     = `<messageResult><code>00000</code><nameRu>Сообщение успешно обработано</nameRu><nameKz>Хабарлама сәтті өңделді</nameKz></messageResult>`
	genderMale   = `<gender><code>1</code><nameRu>Мужской</nameRu><nameKz>Ер</nameKz></gender>`
	genderFemale = `<gender><code>2</code><nameRu>Женский</nameRu><nameKz>Әйел</nameKz></gender>`
	personTail   = `<nationality><code>999</code><nameRu>НЕ УКАЗАНА</nameRu><nameKz>КӨРСЕТІЛГЕН ЖОҚ</nameKz></nationality><citizenship><code>398</code><nameRu>КАЗАХСТАН</nameRu><nameKz>ҚАЗАҚСТАН</nameKz></citizenship><lifeStatus><code>0</code><nameRu>Нормальный</nameRu><nameKz>Қалыпты</nameKz></lifeStatus><birthPlace><country><code>398</code><nameRu>КАЗАХСТАН</nameRu><nameKz>ҚАЗАҚСТАН</nameKz></country><city>АЛМАТЫ</city></birthPlace><removed>false</removed></person></persons>`
)

// appendPersonData writes responseData/data: a GBD FL Response with the
// person, or, for an unknown IIN, a processed result without persons (the
// schema's persons is optional; GBD FL publishes no "not found" code).
func appendPersonData(b []byte, req *fltypes.Request, notFound bool, now time.Time) []byte {
	b = append(b, dataOpen...)
	b = append(b, uuid.NewString()...)
	b = append(b, `</messageId><messageDate>`...)
	b = now.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `</messageDate><requestId>`...)
	b = shepgw.AppendEscaped(b, req.MessageId)
	b = append(b, `</requestId>`...)
	b = append(b, senderGBDFL...)
	b = append(b, `<receiver><code>`...)
	b = shepgw.AppendEscaped(b, req.SenderCode)
	b = append(b, `</code><nameRu>`...)
	b = shepgw.AppendEscaped(b, req.SenderCode)
	b = append(b, `</nameRu><nameKz>`...)
	b = shepgw.AppendEscaped(b, req.SenderCode)
	b = append(b, `</nameKz></receiver>`...)
	b = append(b, resultOK...)
	if !notFound {
		p := PersonFor(req.Iin)
		b = append(b, `<persons><person><iin>`...)
		b = shepgw.AppendEscaped(b, req.Iin)
		b = append(b, `</iin><surname>`...)
		b = append(b, p.Surname...)
		b = append(b, `</surname><name>`...)
		b = append(b, p.Name...)
		b = append(b, `</name><patronymic>`...)
		b = append(b, p.Patronymic...)
		b = append(b, `</patronymic><birthDate>`...)
		b = p.Birth.AppendFormat(b, time.DateOnly)
		b = append(b, `</birthDate>`...)
		if p.Female {
			b = append(b, genderFemale...)
		} else {
			b = append(b, genderMale...)
		}
		b = append(b, personTail...)
	}
	return append(b, `</data>`...)
}
