// Package egovshep embeds the SHEP contract files so Köpir's inbound
// channel and the mock gateway serve the WSDL the code was generated from,
// without a second copy.
package egovshep

import "embed"

// Files holds sync/ (SyncChannel v10), async/ (the gateway's AsyncChannel
// v10) and async-client/ (the push-delivery interface a recipient serves,
// reconstructed: see its header comment) and validation/ (the entry points
// libxml2 compiles them through, see internal/xsd).
//
//go:embed sync async async-client validation
var Files embed.FS
