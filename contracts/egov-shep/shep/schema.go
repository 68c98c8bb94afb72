package shep

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	egovshep "github.com/minfin-kz/kopir/contracts/egov-shep"
	"github.com/minfin-kz/kopir/internal/xsd"
)

// Schemas validates SHEP envelopes against the contract's XSD with
// libxml2 (internal/xsd). The whole envelope is validated from its root,
// through Köpir's schema of the SOAP frame (validation/soap-envelope.xsd):
// the operation checked is the one element under soap:Body by position, so
// a valid decoy of the same name in the Header is never what passes. It is
// validated in place, so violations carry the line and path of the
// envelope as sent.
type Schemas struct {
	sync, async *xsd.Schema
}

var (
	schemasOnce sync.Once
	schemas     *Schemas
	schemasErr  error
)

// LoadSchemas compiles the SyncChannel and AsyncChannel schemas once per
// process. libxml2 resolves imports from files, so the embedded contract
// tree is written to a temporary directory for the compilation and removed
// afterwards; the compiled schemas live in memory.
func LoadSchemas() (*Schemas, error) {
	schemasOnce.Do(func() { schemas, schemasErr = loadSchemas() })
	return schemas, schemasErr
}

func loadSchemas() (*Schemas, error) {
	dir, err := os.MkdirTemp("", "kopir-shep-xsd-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	err = fs.WalkDir(egovshep.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, p), 0o755)
		}
		b, err := egovshep.Files.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		return nil, fmt.Errorf("shep: writing the SHEP schemas: %w", err)
	}
	s := &Schemas{}
	if s.sync, err = xsd.Compile(filepath.Join(dir, "validation", "sync.xsd")); err != nil {
		return nil, fmt.Errorf("shep: SyncChannel schema: %w", err)
	}
	if s.async, err = xsd.Compile(filepath.Join(dir, "validation", "async.xsd")); err != nil {
		return nil, fmt.Errorf("shep: AsyncChannel schema: %w", err)
	}
	return s, nil
}

// Validate checks envelope, whose frame ParseInbound has read, against
// the schema of its operation's channel; nil means valid.
func (s *Schemas) Validate(f *Frame, envelope []byte) error {
	if f == nil {
		return errors.New("shep: validating an envelope whose frame was not read")
	}
	schema := s.async
	if f.Op.Space == NSTypes {
		schema = s.sync
	}
	return xsd.Err(xsd.ValidateParts(neutralXSIType(envelope), xsd.Part{Schema: schema}))
}

var (
	xsiDecl = regexp.MustCompile(`xmlns:([A-Za-z_][-.\w]*)\s*=\s*["']` + regexp.QuoteMeta(NSXSI) + `["']`)
)

// neutralXSIType renames xsi:type attributes in the copy that is validated.
// SHEP types <data> as anyType and senders put the provider's own type in
// its xsi:type (GBD FL's cs:Request); that type belongs to the provider's
// schema, not the gateway's, and libxml2 refuses an xsi:type it cannot
// resolve, with no lax mode. Renamed to a plain attribute, which anyType
// admits, the envelope is checked for everything else, with its line
// numbers unchanged.
func neutralXSIType(env []byte) []byte {
	decls := xsiDecl.FindAllSubmatch(env, -1)
	if len(decls) == 0 {
		return env
	}
	out := env
	copied := false
	for _, d := range decls {
		attr := append(append([]byte{}, d[1]...), ":type="...)
		if !bytes.Contains(out, attr) {
			continue
		}
		if !copied {
			out, copied = bytes.Clone(env), true
		}
		repl := append([]byte("kopir-"), d[1]...)
		repl = append(repl, "-type="...)
		out = bytes.ReplaceAll(out, attr, repl)
	}
	return out
}
