package mocks

import (
	"hash/fnv"
	"time"

	"github.com/google/uuid"

	"github.com/minfin-kz/kopir/contracts/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/internal/kzid"
)

// The fake registry: every valid IIN is a person whose birth date and sex
// are those the IIN encodes and whose names are picked by a hash of it, so
// the same IIN always gives the same person without storing anyone.

// defaultNotFound is only asked about valid IINs.
func defaultNotFound(iin string) bool { return iin[7:11] == "0000" }

var (
	surnames   = []string{"АХМЕТОВ", "ЖУМАБАЕВ", "СЕРИКБАЕВ", "ИСКАКОВ", "НУРПЕИСОВ", "КАСЫМОВ", "ОМАРОВ", "ТОКТАРОВ", "БЕКОВ", "САПАРОВ", "ИВАНОВ", "КИМ"}
	maleNames  = []string{"АЙДАР", "ЕРЛАН", "НУРЛАН", "АСХАТ", "ДАНИЯР", "ТИМУР", "АРМАН", "БАУЫРЖАН", "СЕРГЕЙ", "АЛЕКСАНДР"}
	femNames   = []string{"АЙГЕРИМ", "ДИНАРА", "АСЕЛЬ", "ЖАНАР", "САУЛЕ", "ГУЛЬНАР", "АЙНУР", "МАДИНА", "ЕЛЕНА", "ОЛЬГА"}
	fatherBase = []string{"СЕРИК", "БОЛАТ", "КАЙРАТ", "МАРАТ", "ЕРЖАН", "ТАЛГАТ", "АСКАР", "НУРЛАН", "ИВАН", "ПЕТР"}
)

type fakePerson struct {
	surname, name, patronymic string
	birth                     time.Time
	female                    bool
}

func fakePersonFor(iin string) fakePerson {
	h := fnv.New64a()
	h.Write([]byte(iin))
	x := h.Sum64()
	birth, _ := kzid.IINBirthDate(iin)
	p := fakePerson{birth: birth, female: kzid.IINFemale(iin)}
	p.surname = surnames[x%uint64(len(surnames))]
	father := fatherBase[(x>>16)%uint64(len(fatherBase))]
	if p.female {
		if p.surname != "КИМ" {
			p.surname += "А"
		}
		p.name = femNames[(x>>32)%uint64(len(femNames))]
		p.patronymic = father + "ОВНА"
	} else {
		p.name = maleNames[(x>>32)%uint64(len(maleNames))]
		p.patronymic = father + "ОВИЧ"
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
	b = appendEscaped(b, req.MessageId)
	b = append(b, `</requestId>`...)
	b = append(b, senderGBDFL...)
	b = append(b, `<receiver><code>`...)
	b = appendEscaped(b, req.SenderCode)
	b = append(b, `</code><nameRu>`...)
	b = appendEscaped(b, req.SenderCode)
	b = append(b, `</nameRu><nameKz>`...)
	b = appendEscaped(b, req.SenderCode)
	b = append(b, `</nameKz></receiver>`...)
	b = append(b, resultOK...)
	if !notFound {
		p := fakePersonFor(req.Iin)
		b = append(b, `<persons><person><iin>`...)
		b = appendEscaped(b, req.Iin)
		b = append(b, `</iin><surname>`...)
		b = append(b, p.surname...)
		b = append(b, `</surname><name>`...)
		b = append(b, p.name...)
		b = append(b, `</name><patronymic>`...)
		b = append(b, p.patronymic...)
		b = append(b, `</patronymic><birthDate>`...)
		b = p.birth.AppendFormat(b, time.DateOnly)
		b = append(b, `</birthDate>`...)
		if p.female {
			b = append(b, genderFemale...)
		} else {
			b = append(b, genderMale...)
		}
		b = append(b, personTail...)
	}
	return append(b, `</data>`...)
}

// appendEscaped is xml.EscapeText for a byte slice being built.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '"':
			b = append(b, "&#34;"...)
		case '\'':
			b = append(b, "&#39;"...)
		case '\r':
			b = append(b, "&#xD;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}
