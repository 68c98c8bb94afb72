package console

//go:generate go tool templ generate

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/minfin-kz/kopir/internal/store"
)

// The pages are templ components (the *.templ files, compiled to Go by
// go generate): escaped by context like html/template, but checked by the
// compiler and without text/template's reflection, whose by-name method
// lookups keep every method of every type in the executable (measured:
// 16 MB of it, and as much resident memory; docs/performance.md).

// frame is what the layout around every page needs.
type frame struct {
	S           *session // nil: signed out
	Path        string
	HeldEnabled bool
	Title       string
}

// render draws page main, titled title, in the layout for s (nil: signed
// out).
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, s *session, title string, main templ.Component) {
	f := frame{S: s, Path: r.URL.Path, HeldEnabled: c.held != nil, Title: title}
	c.write(w, r, status, title, layout(f, main))
}

// write sends a drawn component, or a 500 when drawing it failed.
func (c *Console) write(w http.ResponseWriter, r *http.Request, status int, what string, page templ.Component) {
	var buf bytes.Buffer
	if err := page.Render(r.Context(), &buf); err != nil {
		c.log.Error("console: rendering a page", "page", what, "err", err)
		http.Error(w, "the console could not draw this page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// when is t in UTC to the second, or a dash for the zero time.
func when(t time.Time) string { return whenOr(t, "—") }

// whenOr is when t, or none for the zero time.
func whenOr(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// suffix is sep and s, or nothing when s is empty.
func suffix(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

func ms(v float64) string         { return fmt.Sprintf("%.1f ms", v) }
func pct(v float64) string        { return fmt.Sprintf("%.1f%%", v*100) }
func lower(s store.Status) string { return strings.ToLower(string(s)) }

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// barHeight scales one interval of a chart to 40 pixels.
func barHeight(v, max float64) float64 {
	if max <= 0 {
		return 0
	}
	return 40 * v / max
}

// num writes a number as the pages always have (fmt's %v).
func num[T int | int64 | float64 | uint32](v T) string { return fmt.Sprint(v) }
