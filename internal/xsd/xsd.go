// Package xsd validates XML documents against W3C XML Schemas with libxml2,
// through a small cgo wrapper.
//
// Go has no XSD 1.0 validator of its own, and the contracts Köpir speaks
// (ISO 20022 messages, SHEP envelopes) are only defined by their schemas:
// facets, choices and sequences that hand-written checks would drift from.
// libxml2 is the validator most of the industry's tooling is built on. The
// maintained Go binding (lestrrat-go/libxml2) is not available from the
// module proxy this project builds with, so this package wraps the few
// calls it needs: xmlSchemaParse once per schema, then per document a fresh
// xmlSchemaValidCtxt, with structured errors turned into Violations carrying
// the line, the element path and libxml2's message.
//
// Safety: a compiled Schema is read-only and shared; every validation gets
// its own parser and validation context, so Validate is safe for concurrent
// use. Documents are parsed with XML_PARSE_NONET and without entity
// substitution or DTD loading, a document with a DOCTYPE is refused before
// libxml2 sees it, and the process-wide external entity loader refuses
// network URLs, so neither a schema import nor a document can make the bus
// fetch anything.
//
// Build: needs libxml2's headers and pkg-config (Debian: libxml2-dev,
// pkg-config) and a C compiler; the binary links libxml2.so.2.
package xsd

/*
#cgo pkg-config: libxml-2.0
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#ifndef KX_ARENAS
#define KX_ARENAS 1
#endif
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

#define KX_MAX_ERRORS 50

typedef struct {
	int line;
	char *path;
	char *msg;
} kx_err;

typedef struct {
	kx_err errs[KX_MAX_ERRORS];
	int n;
	int dropped;
} kx_errs;

// kx_node_path renders /Document/GrpHdr/MsgId by local names, with [n]
// (1-based) where an element has same-named siblings. xmlGetNodePath would
// print "*" for every element in a default namespace, which is all of ISO
// 20022.
static char *kx_node_path(xmlNodePtr node) {
	const char *names[128];
	int idx[128];
	int depth = 0;
	const char *attr = NULL;
	if (node->type == XML_ATTRIBUTE_NODE) {
		attr = (const char *)node->name;
		node = node->parent;
	}
	for (xmlNodePtr n = node; n != NULL && n->type == XML_ELEMENT_NODE && depth < 128; n = n->parent) {
		int pos = 0, same = 0;
		for (xmlNodePtr s = n->parent ? n->parent->children : n; s != NULL; s = s->next) {
			if (s->type != XML_ELEMENT_NODE || strcmp((const char *)s->name, (const char *)n->name) != 0) continue;
			same++;
			if (s == n) pos = same;
		}
		names[depth] = (const char *)n->name;
		idx[depth] = same > 1 ? pos : 0;
		depth++;
	}
	size_t size = 1 + (attr ? strlen(attr) + 2 : 0);
	for (int i = 0; i < depth; i++) size += strlen(names[i]) + 16;
	char *out = (char *)malloc(size);
	char *w = out;
	*w = 0;
	for (int i = depth - 1; i >= 0; i--) {
		if (idx[i] > 0) w += sprintf(w, "/%s[%d]", names[i], idx[i]);
		else w += sprintf(w, "/%s", names[i]);
	}
	if (attr) sprintf(w, "/@%s", attr);
	return out;
}

// kx_collect is libxml2's structured error callback. It copies what it
// needs, because the xmlError is only valid during the call. The parameter
// is declared void* so the same function fits libxml2 2.9 (xmlErrorPtr)
// and 2.12+ (const xmlError *).
static void kx_collect(void *ud, void *errp) {
	kx_errs *c = (kx_errs *)ud;
	xmlErrorPtr e = (xmlErrorPtr)errp;
	if (c == NULL || e == NULL || e->level == XML_ERR_WARNING) {
		return;
	}
	if (c->n >= KX_MAX_ERRORS) {
		c->dropped++;
		return;
	}
	kx_err *out = &c->errs[c->n++];
	out->line = e->line;
	out->msg = strdup(e->message ? e->message : "unknown error");
	out->path = NULL;
	if (e->node != NULL) {
		xmlNodePtr node = (xmlNodePtr)e->node;
		if (node->type == XML_ELEMENT_NODE || node->type == XML_ATTRIBUTE_NODE) {
			out->path = kx_node_path(node);
			if (out->line == 0) {
				out->line = (int)xmlGetLineNo(node);
			}
		}
	}
}

static void kx_free_errs(kx_errs *c) {
	for (int i = 0; i < c->n; i++) {
		free(c->errs[i].msg);
		free(c->errs[i].path);
	}
	c->n = 0;
}

static kx_errs *kx_new_errs(void) { return (kx_errs *)calloc(1, sizeof(kx_errs)); }

static void kx_release_errs(kx_errs *c) {
	if (c != NULL) {
		kx_free_errs(c);
		free(c);
	}
}

// COMPACT keeps short text inside its node: a statement of thousands of
// entries is mostly short text.
static const int kx_doc_options = XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA | XML_PARSE_COMPACT;

static void kx_trim(void) { malloc_trim(0); }

static const char *kx_version(void) { return xmlParserVersion; }

static void kx_init(void) {
	xmlInitParser();
	// Local files only: a schema's xs:import or xs:include with an http
	// location fails instead of being fetched.
	xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
}

// cgo calls land on whichever thread Go picks, and glibc gives threads
// arenas of their own: each keeps the last large document's tree for
// reuse, and malloc_trim gives little of it back. The cap must be set
// before any thread allocates, so it is set when the program is loaded,
// before the Go runtime starts its threads; an operator's
// MALLOC_ARENA_MAX wins.
__attribute__((constructor)) static void kx_cap_arenas(void) {
	if (getenv("MALLOC_ARENA_MAX") == NULL) {
		mallopt(M_ARENA_MAX, KX_ARENAS);
	}
}

typedef struct {
	xmlSchemaPtr schema;
	xmlDocPtr doc; // the schema document, when compiled from memory
} kx_schema;

static kx_schema *kx_compile(const char *path, const char *buf, int len, const char *url, kx_errs *c) {
	xmlSchemaParserCtxtPtr pc = NULL;
	xmlDocPtr doc = NULL;
	xmlSetStructuredErrorFunc(c, (xmlStructuredErrorFunc)kx_collect);
	if (buf != NULL) {
		doc = xmlReadMemory(buf, len, url, NULL, kx_doc_options);
		if (doc == NULL) {
			xmlSetStructuredErrorFunc(NULL, NULL);
			return NULL;
		}
		pc = xmlSchemaNewDocParserCtxt(doc);
	} else {
		pc = xmlSchemaNewParserCtxt(path);
	}
	if (pc == NULL) {
		xmlSetStructuredErrorFunc(NULL, NULL);
		if (doc) xmlFreeDoc(doc);
		return NULL;
	}
	xmlSchemaSetParserStructuredErrors(pc, (xmlStructuredErrorFunc)kx_collect, c);
	xmlSchemaPtr s = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	xmlSetStructuredErrorFunc(NULL, NULL);
	if (s == NULL) {
		if (doc) xmlFreeDoc(doc);
		return NULL;
	}
	kx_schema *ks = (kx_schema *)calloc(1, sizeof(kx_schema));
	ks->schema = s;
	ks->doc = doc;
	return ks;
}

static void kx_free_schema(kx_schema *ks) {
	if (ks == NULL) return;
	xmlSchemaFree(ks->schema);
	if (ks->doc) xmlFreeDoc(ks->doc);
	free(ks);
}

// kx_find returns the first element, in document order, with the given
// namespace (NULL or "" = none) and local name.
static xmlNodePtr kx_find(xmlNodePtr n, const char *ns, const char *local) {
	while (n != NULL) {
		if (n->type == XML_ELEMENT_NODE) {
			const char *href = (n->ns && n->ns->href) ? (const char *)n->ns->href : "";
			if (strcmp((const char *)n->name, local) == 0 && strcmp(href, ns ? ns : "") == 0) {
				return n;
			}
			xmlNodePtr in = kx_find(n->children, ns, local);
			if (in != NULL) return in;
		}
		n = n->next;
	}
	return NULL;
}

// kx_validate parses the document once and validates, for each i, the
// element named ns[i]/local[i] (or the whole document when local[i] is
// NULL) against schemas[i]. It returns -1 when the document is not
// well-formed, -2 when a part is missing (its index in *missing), the
// number of schema errors otherwise (0 = valid).
static int kx_validate(const char *buf, int len, kx_schema **schemas, char **ns, char **local, int nparts, kx_errs *c, int *missing) {
	xmlSetStructuredErrorFunc(c, (xmlStructuredErrorFunc)kx_collect);
	xmlDocPtr doc = xmlReadMemory(buf, len, "document.xml", NULL, kx_doc_options);
	xmlSetStructuredErrorFunc(NULL, NULL);
	if (doc == NULL) {
		return -1;
	}
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		xmlFreeDoc(doc);
		return -3;
	}
	int bad = 0;
	for (int i = 0; i < nparts; i++) {
		xmlNodePtr root = xmlDocGetRootElement(doc);
		xmlNodePtr el = NULL;
		if (local[i] != NULL) {
			el = kx_find(root, ns[i], local[i]);
			if (el == NULL) {
				*missing = i;
				xmlFreeDoc(doc);
				return -2;
			}
		}
		xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schemas[i]->schema);
		if (vc == NULL) {
			xmlFreeDoc(doc);
			return -4;
		}
		xmlSchemaSetValidStructuredErrors(vc, (xmlStructuredErrorFunc)kx_collect, c);
		int rc = el ? xmlSchemaValidateOneElement(vc, el) : xmlSchemaValidateDoc(vc, doc);
		xmlSchemaFreeValidCtxt(vc);
		if (rc != 0) bad++;
	}
	xmlFreeDoc(doc);
	return bad;
}
*/
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// MaxDocument bounds what Validate hands to libxml2; callers that accept
// input from outside should enforce their own, smaller limit first (see
// internal/safexml).
const MaxDocument = 64 << 20

var initOnce sync.Once

func initLib() { initOnce.Do(func() { C.kx_init() }) }

// trimAfter: the tree of a document this large is worth handing back at
// once rather than keeping for the next one.
const trimAfter = 1 << 20

// releaseMemory hands the C heap libxml2 used back to the system. The C
// allocator keeps freed memory for reuse; after a large document that is
// tens of megabytes no one will use until the next one.
func releaseMemory() { C.kx_trim() }

// ReleaseMemory hands back what compiling schemas left free in the C heap:
// the bus calls it once its components are built, so that the parser's
// scratch memory of start-up does not stay in the idle bus's footprint.
func ReleaseMemory() {
	initLib()
	releaseMemory()
}

// LibraryVersion names the validator, e.g. "libxml2 2.9.14", so tests and
// reports can say which validator passed a document.
func LibraryVersion() string {
	v := C.GoString(C.kx_version()) // "20914": 2.09.14
	if n, err := strconv.Atoi(v); err == nil {
		return fmt.Sprintf("libxml2 %d.%d.%d", n/10000, n/100%100, n%100)
	}
	return "libxml2 " + v
}

// Violation is one reason a document is not valid: where (line and the
// element's path, e.g. /Document/FIToFICstmrCdtTrf/GrpHdr/MsgId) and why,
// in libxml2's words.
type Violation struct {
	Line    int    `json:"line,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func (v Violation) String() string {
	var b strings.Builder
	if v.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", v.Line)
	}
	if v.Path != "" {
		b.WriteString(v.Path)
		b.WriteString(": ")
	}
	b.WriteString(v.Message)
	return b.String()
}

// Error wraps the violations of one document as an error.
type Error struct {
	Violations []Violation
}

func (e *Error) Error() string {
	parts := make([]string, 0, len(e.Violations))
	for _, v := range e.Violations {
		parts = append(parts, v.String())
	}
	return "schema validation failed: " + strings.Join(parts, "; ")
}

// Err returns nil for no violations and an *Error otherwise.
func Err(vs []Violation) error {
	if len(vs) == 0 {
		return nil
	}
	return &Error{Violations: vs}
}

// Schema is a compiled XML Schema. It is immutable and safe for concurrent
// use; compile each schema once and keep it.
type Schema struct {
	ptr  *C.kx_schema
	name string
}

// Compile reads and compiles the schema at path; xs:include and xs:import
// locations resolve relative to it (local files only).
func Compile(path string) (*Schema, error) {
	initLib()
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("xsd: %w", err)
	}
	cpath := C.CString(abs)
	defer C.free(unsafe.Pointer(cpath))
	return compile(filepath.Base(path), func(c *C.kx_errs) *C.kx_schema {
		return C.kx_compile(cpath, nil, 0, nil, c)
	})
}

// CompileBytes compiles a schema held in memory (embedded contracts).
// baseDir is where its xs:include and xs:import locations resolve; "" for a
// self-contained schema. name only labels errors.
func CompileBytes(xsd []byte, baseDir, name string) (*Schema, error) {
	initLib()
	if len(xsd) == 0 {
		return nil, errors.New("xsd: empty schema")
	}
	if name == "" {
		name = "schema.xsd"
	}
	url := name
	if baseDir != "" {
		abs, err := filepath.Abs(baseDir)
		if err != nil {
			return nil, err
		}
		url = filepath.Join(abs, filepath.Base(name))
	}
	curl := C.CString(url)
	defer C.free(unsafe.Pointer(curl))
	buf := C.CBytes(xsd)
	defer C.free(buf)
	return compile(name, func(c *C.kx_errs) *C.kx_schema {
		return C.kx_compile(nil, (*C.char)(buf), C.int(len(xsd)), curl, c)
	})
}

func compile(name string, f func(*C.kx_errs) *C.kx_schema) (*Schema, error) {
	c := C.kx_new_errs()
	defer C.kx_release_errs(c)
	ptr := f(c)
	if ptr == nil {
		vs := collect(c)
		if len(vs) == 0 {
			vs = []Violation{{Message: "schema could not be compiled"}}
		}
		return nil, fmt.Errorf("xsd: compiling %s: %w", name, &Error{Violations: vs})
	}
	s := &Schema{ptr: ptr, name: name}
	runtime.AddCleanup(s, func(p *C.kx_schema) { C.kx_free_schema(p) }, ptr)
	return s, nil
}

// Name is the file name the schema was compiled from.
func (s *Schema) Name() string { return s.name }

// Lazy is a schema compiled from Source the first time it is needed and
// shared after: what a contract package holds for its embedded XSD, so
// that a bus that never meets the contract never pays for compiling it.
type Lazy struct {
	Source []byte
	Name   string // the file name, for messages and relative includes

	once sync.Once
	s    *Schema
	err  error
}

// Schema is the compiled schema.
func (l *Lazy) Schema() (*Schema, error) {
	l.once.Do(func() { l.s, l.err = CompileBytes(l.Source, "", l.Name) })
	return l.s, l.err
}

// Validate checks doc against the schema; a violation comes back as
// *Error, naming the element (its path) and why.
func (l *Lazy) Validate(doc []byte) error {
	s, err := l.Schema()
	if err != nil {
		return err
	}
	return Err(s.Validate(doc))
}

// Validate checks a whole document against the schema. It returns nil when
// the document is valid; a document that is not well-formed yields the
// parser's errors.
func (s *Schema) Validate(doc []byte) []Violation {
	return ValidateParts(doc, Part{Schema: s})
}

// Part selects what one schema validates inside a document: the first
// element, in document order, with namespace Space and local name Local.
// An empty Local means the whole document. It is how a payload is validated
// inside an envelope (an ISO 20022 AppHdr and Document side by side, a SHEP
// message inside a SOAP Body) without re-serialising it: line numbers and
// paths stay those of the document as received.
type Part struct {
	Schema *Schema
	Space  string
	Local  string
}

// ValidateParts parses doc once and validates each part against its schema.
// A part whose element is absent is a violation.
func ValidateParts(doc []byte, parts ...Part) []Violation {
	initLib()
	switch {
	case len(doc) == 0:
		return []Violation{{Message: "empty document"}}
	case len(doc) > MaxDocument:
		return []Violation{{Message: fmt.Sprintf("document is %d bytes, limit %d", len(doc), MaxDocument)}}
	case len(parts) == 0:
		return []Violation{{Message: "no schema to validate against"}}
	case hasDoctype(doc):
		return []Violation{{Line: lineOf(doc, bytes.Index(doc, []byte("<!DOCTYPE"))), Message: "DOCTYPE declarations are not allowed"}}
	}
	n := len(parts)
	// C memory for the arrays: cgo forbids passing Go memory that holds Go
	// pointers, and the strings must be NUL-terminated anyway.
	schemas := (**C.kx_schema)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0)))))
	nss := (**C.char)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0)))))
	locals := (**C.char)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0)))))
	sl := unsafe.Slice(schemas, n)
	nl := unsafe.Slice(nss, n)
	ll := unsafe.Slice(locals, n)
	defer func() {
		for i := range n {
			C.free(unsafe.Pointer(nl[i]))
			C.free(unsafe.Pointer(ll[i]))
		}
		C.free(unsafe.Pointer(schemas))
		C.free(unsafe.Pointer(nss))
		C.free(unsafe.Pointer(locals))
	}()
	for i, p := range parts {
		if p.Schema == nil || p.Schema.ptr == nil {
			return []Violation{{Message: fmt.Sprintf("part %d has no schema", i)}}
		}
		sl[i] = p.Schema.ptr
		if p.Local != "" {
			nl[i] = C.CString(p.Space)
			ll[i] = C.CString(p.Local)
		}
	}
	c := C.kx_new_errs()
	defer C.kx_release_errs(c)
	var missing C.int
	rc := C.kx_validate((*C.char)(unsafe.Pointer(&doc[0])), C.int(len(doc)), schemas, nss, locals, C.int(n), c, &missing)
	for _, p := range parts {
		runtime.KeepAlive(p.Schema)
	}
	if len(doc) >= trimAfter {
		releaseMemory()
	}
	vs := collect(c)
	switch rc {
	case 0:
		return nil
	case -1:
		if len(vs) == 0 {
			vs = []Violation{{Message: "document is not well-formed XML"}}
		}
		return vs
	case -2:
		p := parts[int(missing)]
		return []Violation{{Message: fmt.Sprintf("element {%s}%s not found", p.Space, p.Local)}}
	case -3:
		return []Violation{{Message: "DOCTYPE declarations are not allowed"}}
	case -4:
		return []Violation{{Message: "libxml2 could not create a validation context"}}
	}
	if len(vs) == 0 {
		vs = []Violation{{Message: "document is not valid (libxml2 gave no detail)"}}
	}
	return vs
}

func collect(c *C.kx_errs) []Violation {
	n := int(c.n)
	if n == 0 {
		return nil
	}
	out := make([]Violation, 0, n+1)
	for i := range n {
		e := c.errs[i]
		v := Violation{Line: int(e.line), Message: strings.TrimSpace(C.GoString(e.msg))}
		if e.path != nil {
			v.Path = C.GoString(e.path)
		}
		out = append(out, v)
	}
	if d := int(c.dropped); d > 0 {
		out = append(out, Violation{Message: fmt.Sprintf("%d more errors not shown", d)})
	}
	return out
}

// hasDoctype refuses a DOCTYPE before libxml2 reads its internal subset
// (entity declarations). The byte search also hits "<!DOCTYPE" inside a
// CDATA section; no contract this package serves carries one there.
func hasDoctype(doc []byte) bool { return bytes.Contains(doc, []byte("<!DOCTYPE")) }

func lineOf(doc []byte, at int) int {
	if at < 0 {
		return 0
	}
	return 1 + bytes.Count(doc[:at], []byte{'\n'})
}
