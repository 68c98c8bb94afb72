// Package pacs009 is ISO 20022 pacs.009.001.11 as gowsdl generates it
// from contracts/iso20022/xsd/pacs.009.001.11.xsd: the Document root, over
// the message components in ../../components (see ../doc.go for why and
// how).
package pacs009

// NS is the message's XML namespace.
const NS = "urn:iso:std:iso:20022:tech:xsd:pacs.009.001.11"

// MsgDefIdr is the message identifier a business application header names.
const MsgDefIdr = "pacs.009.001.11"
