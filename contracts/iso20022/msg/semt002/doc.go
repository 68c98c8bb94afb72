// Package semt002 is ISO 20022 semt.002.001.11 as gowsdl generates it
// from contracts/iso20022/xsd/semt.002.001.11.xsd: the Document root, over
// the message components in ../../components (see ../doc.go for why and
// how).
package semt002

// NS is the message's XML namespace.
const NS = "urn:iso:std:iso:20022:tech:xsd:semt.002.001.11"

// MsgDefIdr is the message identifier a business application header names.
const MsgDefIdr = "semt.002.001.11"
