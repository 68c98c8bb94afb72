// Package all links every adapter and inbound channel into the binary.
// Adding an agency means one new package under adapters/ and one import
// line here.
package all

import (
	_ "github.com/minfin-kz/kopir/adapters/csd"
	_ "github.com/minfin-kz/kopir/adapters/csdchannel"
	_ "github.com/minfin-kz/kopir/adapters/egov"
	_ "github.com/minfin-kz/kopir/adapters/ekyzmet"
	_ "github.com/minfin-kz/kopir/adapters/gbdfl"
	_ "github.com/minfin-kz/kopir/adapters/gbdul"
	_ "github.com/minfin-kz/kopir/adapters/httpjson"
	_ "github.com/minfin-kz/kopir/adapters/iso20022"
	_ "github.com/minfin-kz/kopir/adapters/iso20022channel"
	_ "github.com/minfin-kz/kopir/adapters/kase"
	_ "github.com/minfin-kz/kopir/adapters/kasechannel"
	_ "github.com/minfin-kz/kopir/adapters/shepchannel"
	_ "github.com/minfin-kz/kopir/adapters/shepschema"
)
