package iso20022channel

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/iso20022"
)

// yamlOpts is an options block as the config hands it over.
var yamlOpts = adaptertest.Options

// adapterOpts configure the "iso20022" adapter that sends the payments the
// channel matches.
const adapterOpts = "senderBIC: KKMFKZ2A\nreceiverBIC: NBRKKZKX\n"

// sampleDay is the settlement date of the adapter's sample orders, so that
// they are not in the past.
var sampleDay = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

// newIntake is the kit's in-memory intake for this channel, knowing the
// message types given.
func newIntake(keys ...string) *adaptertest.Intake {
	in := adaptertest.NewIntake(ChannelName)
	for _, k := range keys {
		in.Route(k, false)
	}
	return in
}

func newAdapter(t testing.TB, op string, res adapters.Resources) *iso20022.Adapter {
	t.Helper()
	a, err := iso20022.New(adapters.AdapterConfig{Operation: op, Options: yamlOpts(adapterOpts)}, res)
	if err != nil {
		t.Fatal(err)
	}
	return a.(*iso20022.Adapter)
}

// sample is one of the adapter's sample orders (its testdata), as given
// or with change applied to it.
func sample(t testing.TB, name string, change func(m map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "iso20022", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if change == nil {
		return b
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	return b
}
