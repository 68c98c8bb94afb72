package ncanode_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/contracts/ncanode"
)

// A certificate as NCANode 3.x describes it (field names and date form of
// its OpenAPI description; values made up).
const certInfo = `{"status":200,"message":"OK","valid":false,"signers":[{"valid":false,
 "revocations":[{"revoked":true,"by":"OCSP","revocationTime":"2024-03-01T10:00:00.000+00:00","reason":"keyCompromise"}],
 "notBefore":"2023-05-02T08:38:13.000+00:00","notAfter":"2024-05-02T08:38:13.000+0600","keyUsage":"SIGN",
 "serialNumber":"60ba4568ae98fa522a13fa711c6cb60c69bee2c4","signAlg":"ECGOST34310","keyUser":["CEO","ORGANIZATION"],
 "subject":{"commonName":"ТЕСТОВ ТЕСТ","iin":"123456789011","bin":"123456789021","dn":"CN=ТЕСТОВ ТЕСТ, SERIALNUMBER=IIN123456789011"}}]}`

func TestReadsNCANodeAnswer(t *testing.T) {
	var r ncanode.VerificationResponse
	if err := json.Unmarshal([]byte(certInfo), &r); err != nil {
		t.Fatal(err)
	}
	ci := r.Signers[0]
	if r.Status.Status != 200 || r.Valid || ci.SerialNumber != "60ba4568ae98fa522a13fa711c6cb60c69bee2c4" || ci.Subject.IIN != "123456789011" {
		t.Fatalf("%+v", r)
	}
	if !ci.NotBefore.Equal(time.Date(2023, 5, 2, 8, 38, 13, 0, time.UTC)) || !ci.NotAfter.Equal(time.Date(2024, 5, 2, 2, 38, 13, 0, time.UTC)) {
		t.Fatalf("dates %v %v", ci.NotBefore, ci.NotAfter)
	}
	if rv := ci.Revocations[0]; !rv.Revoked || rv.By != ncanode.RevocationOCSP || !rv.RevocationTime.Equal(time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("revocation %+v", rv)
	}
}

func TestTimeRoundTrip(t *testing.T) {
	in := ncanode.Time{Time: time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC)}
	b, err := json.Marshal(in)
	if err != nil || string(b) != `"2025-01-02T03:04:05.006+00:00"` {
		t.Fatalf("%s %v", b, err)
	}
	var out ncanode.Time
	if err := json.Unmarshal(b, &out); err != nil || !out.Equal(in.Time) {
		t.Fatalf("%v %v", out, err)
	}
	if err := json.Unmarshal([]byte(`"2 May 2024"`), &out); err == nil {
		t.Fatal("a date in another form was accepted")
	}
	if err := json.Unmarshal([]byte(`null`), &out); err != nil || !out.IsZero() {
		t.Fatalf("null: %v %v", out, err)
	}
}
