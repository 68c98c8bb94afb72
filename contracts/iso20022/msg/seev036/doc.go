// Package seev036 is ISO 20022 seev.036.001.15 as gowsdl generates it
// from contracts/iso20022/xsd/seev.036.001.15.xsd: the Document root, over
// the message components in ../../components (see ../doc.go for why and
// how).
package seev036

// NS is the message's XML namespace.
const NS = "urn:iso:std:iso:20022:tech:xsd:seev.036.001.15"

// MsgDefIdr is the message identifier a business application header names.
const MsgDefIdr = "seev.036.001.15"
