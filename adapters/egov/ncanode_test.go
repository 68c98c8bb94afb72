package egov_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/ncanode"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	mockncanode "github.com/minfin-kz/kopir/mocks/ncanode"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

// ncanodeSigning is the demo key handed to NCANode at base (the mock's).
func ncanodeSigning(base string) string {
	return "\nsigning: {provider: ncanode, url: " + base + mockncanode.Prefix +
		", pkcs12: ../../mocks/pki/kopir.p12, passwordFile: ../../mocks/pki/kopir.p12.password, retry: {attempts: 1}}"
}

// A route whose signing provider is NCANode sends the envelope NCANode
// signed, and the gateway (verifying like SHEP, against the demo root)
// accepts it: the signature it checked is the one the mock NCANode logged.
func TestSignedThroughNCANode(t *testing.T) {
	mock := httptestMock(t, shepgw.Options{RequireSignature: true})
	a := passthrough(t, ncanodeSigning(mock))
	req := &adapters.Request{MessageID: "ncanode-1", Body: []byte(gbdflSend)}
	w, err := a.Encode(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xmlsig.Verify(w.Body); err != nil {
		t.Fatal(err)
	}
	resp, err := a.Decode(context.Background(), req, post(t, mock+"/shep/sync", w))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(resp.Body), "931002451325") {
		t.Fatalf("%s", resp.Body)
	}
	var got struct{ Items []struct{ Key string } }
	r, err := http.Get(mock + "/_control/received/" + mockncanode.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	json.NewDecoder(r.Body).Decode(&got)
	want, found := "sign "+mockncanode.SignatureValue(w.Body), false
	for _, it := range got.Items {
		found = found || it.Key == want
	}
	if !found {
		t.Fatalf("the sent signature is not one the mock NCANode produced: %+v", got.Items)
	}

	putFault(t, mock, mockncanode.Name, `{"failRate":1,"status":500}`)
	_, err = a.Encode(context.Background(), req)
	var ae *adapters.Error
	if !errors.As(err, &ae) || ae.Code != ncanode.CodeError || ae.Status != http.StatusBadGateway {
		t.Fatalf("NCANode failing: %v", err)
	}
}

// The provider's options are checked when the route is built, naming the
// field.
func TestSigningProviderOptionsRefused(t *testing.T) {
	f, _ := adapters.Lookup("egov")
	for _, c := range []struct{ signing, want string }{
		{"{provider: hsm, cert: a, key: b}", `options.signing: provider: unknown signing provider "hsm"`},
		{"{provider: ncanode, url: http://127.0.0.1:1, cert: ../../mocks/pki/kopir.pem, key: ../../mocks/pki/kopir.key}", "options.signing: pkcs12: NCANode takes the key as a PKCS#12 container"},
		{"{provider: ncanode, pkcs12: ../../mocks/pki/kopir.p12, passwordFile: ../../mocks/pki/kopir.p12.password}", "options.signing: url: NCANode's base URL is required"},
		{"{cert: ../../mocks/pki/kopir.pem, key: ../../mocks/pki/kopir.key, url: http://127.0.0.1:1}", "options.signing: url, keyAlias"},
		{"{provider: ncanode, url: http://127.0.0.1:1, pkcs12: ../../mocks/pki/kopir.p12, passwordEnv: KOPIR_TEST_UNSET}", "KOPIR_TEST_UNSET"},
	} {
		_, err := f(adapters.AdapterConfig{Operation: "send", Options: yamlOpts("serviceId: S\nsenderId: kopir\nsigning: " + c.signing)}, adapters.Resources{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("signing %s:\n got %v\nwant %s", c.signing, err, c.want)
		}
	}
}
