package iso20022

import (
	"encoding/json"
	"testing"

	"github.com/minfin-kz/kopir/adapters/adaptertest"
)

// yamlOpts is an options block as the route table hands it over.
var yamlOpts = adaptertest.Options

const testOpts = "senderBIC: KKMFKZ2A\nreceiverBIC: NBRKKZKX\n"

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
