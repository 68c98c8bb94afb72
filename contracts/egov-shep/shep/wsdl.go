package shep

import (
	"html"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
)

var fileRef = regexp.MustCompile(`(schemaLocation|location)="([^"]*)"`)

// ServeWSDL answers GET <endpoint>?wsdl with entry from the contract tree
// fsys/root, and GET <endpoint>?file=<path> with the files it imports.
// Imports are rewritten to ?file= URLs on endpoint so WSDL tools can
// follow them, and soap:address to endpoint itself. endpoint is the
// public address the server is configured with, never one taken from the
// request: a Host header is the caller's to choose, and a WSDL that names
// the caller's host sends the next client that reads it there.
func ServeWSDL(w http.ResponseWriter, r *http.Request, fsys fs.FS, root, entry, endpoint string) {
	q := r.URL.Query()
	name := q.Get("file")
	switch {
	case q.Has("wsdl"):
		name = entry
	case name == "":
		http.Error(w, "POST a SOAP envelope, or GET ?wsdl", http.StatusBadRequest)
		return
	}
	if strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		http.Error(w, "bad file name", http.StatusBadRequest)
		return
	}
	src, err := fs.ReadFile(fsys, root+"/"+name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	dir := name[:strings.LastIndexByte(name, '/')+1]
	out := fileRef.ReplaceAllStringFunc(string(src), func(m string) string {
		sub := fileRef.FindStringSubmatch(m)
		if strings.Contains(sub[2], "://") {
			return sub[1] + `="` + html.EscapeString(endpoint) + `"`
		}
		return sub[1] + `="` + html.EscapeString(endpoint+"?file="+cleanJoin(dir, sub[2])) + `"`
	})
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write([]byte(out))
}

// cleanJoin resolves a relative schemaLocation against the importing file's
// directory, all inside the embedded tree.
func cleanJoin(dir, rel string) string {
	parts := strings.Split(strings.TrimSuffix(dir, "/"), "/")
	if dir == "" {
		parts = nil
	}
	for _, p := range strings.Split(rel, "/") {
		switch p {
		case ".", "":
		case "..":
			if len(parts) > 0 {
				parts = parts[:len(parts)-1]
			}
		default:
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}
