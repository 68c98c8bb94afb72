// Package contracts embeds the agency contract files so the mocks can serve
// the same WSDL the adapters were generated from, without a second copy.
package contracts

import "embed"

// SHEPSync is the SHEP SyncChannel v10 contract tree, rooted at egov-shep/sync.
//
//go:embed egov-shep/sync
var SHEPSync embed.FS
