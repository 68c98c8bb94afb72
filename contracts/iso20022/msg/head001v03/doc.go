// Package head001v03 is ISO 20022 head.001.001.03 as gowsdl generates it
// from contracts/iso20022/xsd/head.001.001.03.xsd: the AppHdr root, over
// the message components in ../../components (see ../doc.go for why and
// how).
package head001v03

// NS is the message's XML namespace.
const NS = "urn:iso:std:iso:20022:tech:xsd:head.001.001.03"

// MsgDefIdr is the message identifier a business application header names.
const MsgDefIdr = "head.001.001.03"
