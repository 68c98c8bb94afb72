// Package kasetypes holds the Go types of Köpir's KASE placement schema
// (namespace urn:kopir:kase:placement:1.0), generated from
// contracts/kase/kase-1.0.xsd; read and write them through package kase,
// which gives the root element and namespace and validates both ways.
//
// The steps, the same as for the ISO 20022 messages:
//
//  1. gowsdl v0.5.0 reads types.wsdl, a minimal WSDL that imports the
//     schema, because gowsdl reads only WSDL;
//  2. typefix turns the decimal types (prices, rates, amounts) and the date
//     types into strings: as float64 a price loses its exact value and
//     1000000 is written "1e+06", and soap.XSDDate under a defined type is
//     written empty;
//  3. gowsdlfix drops the imports a WSDL without operations leaves unused.
//
// The structs have no XMLName and their tags no namespace: kase.Marshal
// writes the root element in the schema's namespace as the default one,
// which every child inherits. Never edit kasetypes.go by hand; run
// `go generate ./contracts/kase/...`.
package kasetypes

//go:generate go tool gowsdl -d .. -p kasetypes -o kasetypes.go types.wsdl
//go:generate go run ../../iso20022/typefix -xsd ../kase-1.0.xsd kasetypes.go
//go:generate go run ../../gowsdlfix kasetypes.go
