package httpguard

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/problem"
)

// Mux is what Fallback needs of an *http.ServeMux.
type Mux interface {
	http.Handler
	Handler(r *http.Request) (h http.Handler, pattern string)
}

// Fallback serves mux, but answers what no pattern of mux takes itself, as
// problem+json and recorded: 405 with Allow when the path is known for
// other methods, else 404 with notFound's words (nil: a plain sentence).
// Neither echoes the path: it is the caller's, and may be an attack.
// A listener's mux therefore registers no catch-all pattern: one would
// match every method and hide the 405s.
func (l *Listener) Fallback(mux Mux, notFound func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// The mux's own answer says which it is: 405 carries Allow.
		probe := &headerProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			allow := probe.header.Get("Allow")
			l.count("method-not-allowed")
			w.Header().Set("Allow", allow)
			p := problem.New(http.StatusMethodNotAllowed, "Method not allowed",
				fmt.Sprintf("%s is not allowed on this path; use %s", ledger.BoundName(r.Method, 16), strings.ReplaceAll(allow, ",", " or")))
			l.Refuse(w, r, Refusal{}, p)
			return
		}
		l.count("not-found")
		detail := fmt.Sprintf("nothing is served at this path on the %s listener", l.Name)
		if notFound != nil {
			detail = notFound(r)
		}
		l.Refuse(w, r, Refusal{}, problem.New(http.StatusNotFound, "Not found", detail))
	})
}

// headerProbe keeps the status and headers of the mux's plain answer and
// drops its body.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) WriteHeader(code int)        { p.status = code }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
