// Package iso20022 embeds the official ISO 20022 message schemas Köpir
// speaks, so the adapter, the inbound channel and the payment-system mock
// validate against the very same files the Go types are generated from.
package iso20022

import "embed"

// XSD holds the schemas as published, under xsd/<message id>.xsd.
//
//go:embed xsd/*.xsd
var XSD embed.FS

// Schema returns the schema of a message id such as "pacs.008.001.08".
func Schema(msgID string) ([]byte, error) { return XSD.ReadFile("xsd/" + msgID + ".xsd") }
