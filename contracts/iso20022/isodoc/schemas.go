// Package isodoc is what the ISO 20022 adapter, its inbound channel and the
// payment-system mock share: the compiled official schemas, the business
// application header envelope, exact decimal amounts, and the parser that
// tells an inbound document's type by its namespace and validates it.
//
// The mock uses it too, which is deliberate rather than a shortcut: both
// sides are held to the same official XSDs, so a message the mock accepts
// is one the bus emits valid, and vice versa.
package isodoc

import (
	"fmt"
	"strings"
	"sync"

	"github.com/minfin-kz/kopir/contracts/iso20022"
	"github.com/minfin-kz/kopir/internal/xsd"
)

// Message definition identifiers handled.
const (
	Head001 = "head.001.001.02"
	Pacs002 = "pacs.002.001.10"
	Pacs004 = "pacs.004.001.09"
	Pacs008 = "pacs.008.001.08"
	Camt053 = "camt.053.001.08"
	Camt054 = "camt.054.001.08"
	Camt056 = "camt.056.001.08"
	Pain001 = "pain.001.001.09"

	// The depository link (government securities) and its cash leg between
	// institutions; these carry Head001v03 as their header.
	Head001v03 = "head.001.001.03"
	Reda006    = "reda.006.001.01"
	Reda008    = "reda.008.001.01"
	Sese024    = "sese.024.001.12"
	Sese025    = "sese.025.001.11"
	Semt002    = "semt.002.001.11"
	Seev031    = "seev.031.001.14"
	Seev036    = "seev.036.001.15"
	Pacs009    = "pacs.009.001.11"
)

// HeaderOf returns the business application header definition a message
// travels with: head.001.001.03 for the securities messages (business
// areas reda, sese, semt, seev) and pacs.009.001.11, which came with it;
// head.001.001.02 for the payment messages, as before. One header per
// message keeps Parse and Marshal agreeing on what a counterpart may send.
func HeaderOf(docID string) string {
	if docID == Pacs009 {
		return Head001v03
	}
	switch area, _, _ := strings.Cut(docID, "."); area {
	case "reda", "sese", "semt", "seev":
		return Head001v03
	}
	return Head001
}

const nsPrefix = "urn:iso:std:iso:20022:tech:xsd:"

// NS is the XML namespace of a message definition.
func NS(id string) string { return nsPrefix + id }

// IDFromNS returns the message definition a namespace belongs to.
func IDFromNS(ns string) (string, bool) {
	id, ok := strings.CutPrefix(ns, nsPrefix)
	return id, ok && id != ""
}

// Key is the message type without its variant and version ("pacs.002" for
// pacs.002.001.10): what inbound routes are keyed by, so a version upgrade
// of the payment system does not rename routes.
func Key(id string) string {
	parts := strings.SplitN(id, ".", 3)
	if len(parts) < 2 {
		return id
	}
	return parts[0] + "." + parts[1]
}

var schemas sync.Map // id → *compiled

type compiled struct {
	once sync.Once
	s    *xsd.Schema
	err  error
}

// Schema returns the compiled official schema of a message definition. Each
// is compiled once (tens of milliseconds for these schemas) on first use.
func Schema(id string) (*xsd.Schema, error) {
	v, _ := schemas.LoadOrStore(id, &compiled{})
	c := v.(*compiled)
	c.once.Do(func() {
		src, err := iso20022.Schema(id)
		if err != nil {
			c.err = fmt.Errorf("no schema for %s: %w", id, err)
			return
		}
		c.s, c.err = xsd.CompileBytes(src, "", id+".xsd")
	})
	return c.s, c.err
}

// Validator names what validates documents, for logs and test output.
func Validator() string {
	return xsd.LibraryVersion() + " (internal/xsd) against the official ISO 20022 XSDs"
}
