// Package contracts holds what the agencies' folders declare for the mocks
// without Go code: every <agency>/shep-mock.yaml, a SHEP service the mock
// gateway answers from that folder's schemas (mocks/shepschema). A folder
// with such a file is all a config-only SHEP agency needs.
package contracts

import "embed"

// SHEPMocks is every agency folder's shep-mock.yaml and XSDs.
//
//go:embed */shep-mock.yaml */*.xsd
var SHEPMocks embed.FS
