// Package all links every simulated agency into the binary that imports
// it, kopir-mocks. Adding an agency means one new package under mocks/ and
// one import line here.
package all

import (
	_ "github.com/minfin-kz/kopir/mocks/csd"
	_ "github.com/minfin-kz/kopir/mocks/ekyzmet"
	_ "github.com/minfin-kz/kopir/mocks/gbdfl"
	_ "github.com/minfin-kz/kopir/mocks/gbdul"
	_ "github.com/minfin-kz/kopir/mocks/kase"
	_ "github.com/minfin-kz/kopir/mocks/nbrk"
	_ "github.com/minfin-kz/kopir/mocks/ncanode"
	_ "github.com/minfin-kz/kopir/mocks/payments"
	_ "github.com/minfin-kz/kopir/mocks/shepgw"
	_ "github.com/minfin-kz/kopir/mocks/shepschema"
	_ "github.com/minfin-kz/kopir/mocks/subscriber"
)
