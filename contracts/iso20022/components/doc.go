// Package components holds the ISO 20022 message components of every
// message in ../msg, generated once: each message's package keeps its root
// element and refers here for the rest, so code that handles a component
// (a party, an account, a statement entry) is written once for all the
// messages that use it. components.go is written by `go generate
// ./contracts/iso20022/msg` (../msg/doc.go says how and why); it is never
// edited by hand.
//
// The types carry no XML namespace: an element takes the default namespace
// of the Document it is written in.
package components
