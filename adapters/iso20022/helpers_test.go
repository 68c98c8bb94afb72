package iso20022

import (
	"encoding/json"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/minfin-kz/kopir/adapters/adaptertest"
)

// yamlOpts is an options block as the route table hands it over.
type yamlOpts string

func (o yamlOpts) Decode(into any) error {
	dec := yaml.NewDecoder(strings.NewReader(string(o)))
	dec.KnownFields(true)
	err := dec.Decode(into)
	if err != nil && err.Error() == "EOF" {
		return nil
	}
	return err
}

const testOpts = "senderBIC: KKMFKZ2A\nreceiverBIC: NBRKKZKX\n"

// newIntake is the kit's in-memory intake for this channel, knowing the
// message types given.
func newIntake(keys ...string) *adaptertest.Intake {
	in := adaptertest.NewIntake(ChannelName)
	for _, k := range keys {
		in.Route(k, false)
	}
	return in
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
