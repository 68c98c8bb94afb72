// Package seev031 is ISO 20022 seev.031.001.14 as gowsdl generates it
// from contracts/iso20022/xsd/seev.031.001.14.xsd: the Document root, over
// the message components in ../../components (see ../doc.go for why and
// how).
package seev031

// NS is the message's XML namespace.
const NS = "urn:iso:std:iso:20022:tech:xsd:seev.031.001.14"

// MsgDefIdr is the message identifier a business application header names.
const MsgDefIdr = "seev.031.001.14"
