// Package camt053 is ISO 20022 camt.053.001.08 as gowsdl generates it
// from contracts/iso20022/xsd/camt.053.001.08.xsd: the Document root, over
// the message components in ../../components (see ../doc.go for why and
// how).
package camt053

// NS is the message's XML namespace.
const NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"

// MsgDefIdr is the message identifier a business application header names.
const MsgDefIdr = "camt.053.001.08"
