// Package pacs002 is ISO 20022 pacs.002.001.10 as gowsdl generates it
// from contracts/iso20022/xsd/pacs.002.001.10.xsd: the Document root, over
// the message components in ../../components (see ../doc.go for why and
// how).
package pacs002

// NS is the message's XML namespace.
const NS = "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"

// MsgDefIdr is the message identifier a business application header names.
const MsgDefIdr = "pacs.002.001.10"
