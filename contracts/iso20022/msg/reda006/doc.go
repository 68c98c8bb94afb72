// Package reda006 is ISO 20022 reda.006.001.01 as gowsdl generates it
// from contracts/iso20022/xsd/reda.006.001.01.xsd: the Document root, over
// the message components in ../../components (see ../doc.go for why and
// how).
package reda006

// NS is the message's XML namespace.
const NS = "urn:iso:std:iso:20022:tech:xsd:reda.006.001.01"

// MsgDefIdr is the message identifier a business application header names.
const MsgDefIdr = "reda.006.001.01"
