// Package sese024 is ISO 20022 sese.024.001.12 as gowsdl generates it
// from contracts/iso20022/xsd/sese.024.001.12.xsd: the Document root, over
// the message components in ../../components (see ../doc.go for why and
// how).
package sese024

// NS is the message's XML namespace.
const NS = "urn:iso:std:iso:20022:tech:xsd:sese.024.001.12"

// MsgDefIdr is the message identifier a business application header names.
const MsgDefIdr = "sese.024.001.12"
