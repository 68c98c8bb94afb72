package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/internal/store"
)

var funcs = template.FuncMap{
	"seconds": seconds,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
	},
	"ms":    func(v float64) string { return fmt.Sprintf("%.1f ms", v) },
	"pct":   func(v float64) string { return fmt.Sprintf("%.1f%%", v*100) },
	"lower": func(s store.Status) string { return strings.ToLower(string(s)) },
	"short": func(id string) string {
		if len(id) > 8 {
			return id[:8]
		}
		return id
	},
	// barHeight scales one interval of a chart to 40 pixels.
	"barHeight": func(v, max float64) float64 {
		if max <= 0 {
			return 0
		}
		return 40 * v / max
	},
	"add": func(a, b float64) float64 { return a + b },
	"sub": func(a, b float64) float64 { return a - b },
	"mul": func(a float64, b int) float64 { return a * float64(b) },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}

// parsePages parses each page with the layout it is drawn in.
func parsePages() (map[string]*template.Template, error) {
	layout, err := fs.ReadFile(assets, "assets/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(assets, "assets/pages/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		src, err := fs.ReadFile(assets, n)
		if err != nil {
			return nil, err
		}
		t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
		if err != nil {
			return nil, fmt.Errorf("console layout: %w", err)
		}
		if _, err := t.Parse(string(src)); err != nil {
			return nil, fmt.Errorf("console page %s: %w", n, err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(n, "assets/pages/"), ".html")
		pages[name] = t
	}
	return pages, nil
}

// render draws page name for s (nil: signed out) with data. A fragment
// page ("results") is drawn without the layout.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, s *session, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["S"] = s
	data["Path"] = r.URL.Path
	data["HeldEnabled"] = c.held != nil
	var buf bytes.Buffer
	var err error
	if name == "results" {
		err = c.pages["messages"].ExecuteTemplate(&buf, "results", data)
	} else if t, ok := c.pages[name]; ok {
		err = t.ExecuteTemplate(&buf, "layout", data)
	} else {
		err = fmt.Errorf("no console page %q", name)
	}
	if err != nil {
		c.log.Error("console: rendering a page", "page", name, "err", err)
		http.Error(w, "the console could not draw this page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
