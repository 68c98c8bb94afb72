// Package console serves the operators' console: server-rendered pages on
// the admin listener at /console/, embedded in the binary, for finding what
// happened to a message and putting it right without SQL.
//
// The console owns nothing but its sign-in sessions. Every read and every
// action goes through the parts the admin API uses (the store, the
// replayer, the breakers, the held queue) and every action needs the role
// the admin API's table (admin.Endpoints) gives the same action, so the two
// cannot disagree about who may do what. Actions are audited by the parts
// they call, under the signed-in admin's name.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minfin-kz/kopir/internal/admin"
	"github.com/minfin-kz/kopir/internal/auth"
	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

//go:embed assets
var assets embed.FS

// Options are the console's settings; zero values take the defaults.
type Options struct {
	// SessionIdle signs an operator out after this long without a request;
	// SessionMax after this long in all.
	SessionIdle, SessionMax time.Duration
	// ReadEvery is how often the health page's rates are read from the
	// metrics; an hour of readings is kept.
	ReadEvery time.Duration
	// Sessions keeps the sign-in sessions; nil: this process's memory.
	Sessions SessionStore
}

// Defaults of Options.
const (
	DefaultSessionIdle = 30 * time.Minute
	DefaultSessionMax  = 8 * time.Hour
	DefaultReadEvery   = time.Minute
)

// Console is the operators' console.
type Console struct {
	admin    *admin.Server
	metrics  prometheus.Gatherer
	log      *slog.Logger
	opts     Options
	sessions *sessions
	rates    *window
	now      func() time.Time
	// lastVerify is the last audit chain walk started from the console.
	lastVerify atomic.Value
	held       admin.Held
}

// New builds the console over the admin API's parts; metrics are the
// bus's own instruments, read for the health page.
func New(adm *admin.Server, metrics prometheus.Gatherer, log *slog.Logger, opts Options) (*Console, error) {
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = DefaultSessionIdle
	}
	if opts.SessionMax <= 0 {
		opts.SessionMax = DefaultSessionMax
	}
	if opts.ReadEvery <= 0 {
		opts.ReadEvery = DefaultReadEvery
	}
	c := &Console{admin: adm, metrics: metrics, log: log, opts: opts, now: time.Now, held: adm.Held}
	c.sessions = newSessions(opts.Sessions, opts.SessionIdle, opts.SessionMax, c.now)
	c.rates = &window{keep: int(time.Hour/opts.ReadEvery) + 1}
	return c, nil
}

// Run reads the metrics every ReadEvery until ctx ends.
func (c *Console) Run(ctx context.Context) {
	c.rates.add(readMetrics(c.metrics, c.now()))
	t := time.NewTicker(c.opts.ReadEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.rates.add(readMetrics(c.metrics, c.now()))
		}
	}
}

// page is a console handler for a signed-in admin.
type page func(w http.ResponseWriter, r *http.Request, s *session)

// Handler serves the console under /console/.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets/static")
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", staticFiles(static)))
	mux.HandleFunc("GET /console/sign-in", c.signInForm)
	mux.HandleFunc("POST /console/sign-in", c.signIn)
	mux.HandleFunc("POST /console/sign-out", c.signedIn("", c.signOut))
	mux.HandleFunc("GET /console/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/messages", http.StatusSeeOther)
	})
	// Each page needs the role of the admin API endpoint doing the same.
	mux.HandleFunc("GET /console/messages", c.signedIn("GET /admin/v1/messages", c.messages))
	mux.HandleFunc("GET /console/messages/{id}", c.signedIn("GET /admin/v1/messages/{id}", c.exchange))
	mux.HandleFunc("GET /console/messages/{id}/replay", c.signedIn("POST /admin/v1/messages/{id}/replay", c.confirmReplay))
	mux.HandleFunc("POST /console/messages/{id}/replay", c.signedIn("POST /admin/v1/messages/{id}/replay", c.replay))
	mux.HandleFunc("GET /console/replay", c.signedIn("POST /admin/v1/replay", c.confirmBulk))
	mux.HandleFunc("POST /console/replay", c.signedIn("POST /admin/v1/replay", c.bulk))
	mux.HandleFunc("GET /console/replay/{job}", c.signedIn("GET /admin/v1/replay/{job}", c.job))
	mux.HandleFunc("GET /console/health", c.signedIn("GET /admin/v1/breakers", c.health))
	mux.HandleFunc("POST /console/audit/verify", c.signedIn("GET /admin/v1/audit/verify", c.verify))
	c.heldPages(mux)
	// Cross-origin requests that change state are refused before any
	// handler (Sec-Fetch-Site and Origin, as browsers send them); the CSRF
	// token of each form is the second lock.
	return http.NewCrossOriginProtection().Handler(securityHeaders(mux))
}

func staticFiles(fsys fs.FS) http.Handler {
	h := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// securityHeaders keeps the console's pages to their own origin: no
// script, style or frame from anywhere else, and none of it in a frame.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// signedIn lets a signed-in admin whose role allows the admin endpoint
// like through to p; POSTs must carry the session's CSRF token. Anyone
// else goes to the sign-in page (GET) or is refused (POST).
func (c *Console) signedIn(like string, p page) http.HandlerFunc {
	need := config.RoleViewer
	if like != "" {
		need = c.roleOf(like)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.sessions.get(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/sign-in?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, nil, http.StatusUnauthorized, "Signed out", "your session has ended; sign in again")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, admin.MaxBodyBytes)
			token := r.Header.Get("X-CSRF-Token")
			if token == "" {
				token = r.PostFormValue("csrf")
			}
			if !s.validCSRF(token) {
				c.fail(w, r, s, http.StatusForbidden, "Refused", "the form's CSRF token is missing or not this session's; reload the page and try again")
				return
			}
		}
		if !s.Role.Grants(need) {
			c.forbid(w, r, s, need)
			return
		}
		p(w, r, s)
	}
}

// roleOf is the role the admin API's table gives pattern. A console page
// naming an endpoint the table lacks is a programming error: it is found
// by the console's tests, and until then nobody but admins may use it.
func (c *Console) roleOf(pattern string) config.Role {
	for _, e := range c.admin.Endpoints() {
		if e.Pattern == pattern {
			return e.Role
		}
	}
	return config.RoleAdmin
}

// forbid answers 403 naming the role needed, recorded on the audit trail
// like the admin API's refusals.
func (c *Console) forbid(w http.ResponseWriter, r *http.Request, s *session, need config.Role) {
	if c.admin.Denials != nil {
		d := ledger.Denial{Admin: s.Admin, Role: string(s.Role), Needs: string(need), Method: r.Method, Path: r.Pattern}
		if err := c.admin.Denials.Denied(r.Context(), d); err != nil {
			c.log.Error("recording a forbidden console action", "admin", s.Admin, "err", err)
		}
	}
	c.fail(w, r, s, http.StatusForbidden, "Not allowed", fmt.Sprintf("%s has role %s; this needs role %s", s.Admin, s.Role, need))
}

func (c *Console) signInForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.sessions.get(r); ok {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, nil, "Sign in", signInPage(safeNext(r.URL.Query().Get("next")), ""))
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	a, ok := auth.AdminByToken(c.admin.Admins, token)
	if !ok {
		c.log.Warn("console: sign-in refused", "remote", r.RemoteAddr)
		c.render(w, r, http.StatusUnauthorized, nil, "Sign in", signInPage(next, "No admin has this token."))
		return
	}
	id, _, err := c.sessions.start(r.Context(), a)
	if err != nil {
		c.log.Error("console: keeping a session", "err", err)
		c.render(w, r, http.StatusServiceUnavailable, nil, "Sign in", signInPage(next, "The console could not keep your session; try again shortly."))
		return
	}
	setCookie(w, r, id, int(c.opts.SessionMax.Seconds()))
	c.log.Info("console: signed in", "admin", a.Name, "role", a.Role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	c.sessions.end(r)
	setCookie(w, r, "", -1)
	c.log.Info("console: signed out", "admin", s.Admin)
	http.Redirect(w, r, "/console/sign-in", http.StatusSeeOther)
}

// safeNext keeps a redirect after sign-in on the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/messages"
	}
	return next
}

// fail renders an error page with status.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, status int, title, detail string) {
	c.render(w, r, status, s, title, errorPage(s, title, detail))
}

// storeFailed renders a failed read: not found, or the store unavailable
// (its own words go to the log, not the page).
func (c *Console) storeFailed(w http.ResponseWriter, r *http.Request, s *session, what string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, s, http.StatusNotFound, "Not found", what+" does not exist")
		return
	}
	c.log.Error("console: the store failed", "what", what, "err", err)
	c.fail(w, r, s, http.StatusServiceUnavailable, "Store unavailable", "the message store did not answer; try again shortly")
}
