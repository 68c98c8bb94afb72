package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/admin"
	"github.com/minfin-kz/kopir/internal/clock"
	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/held"
	"github.com/minfin-kz/kopir/internal/httpguard"
	"github.com/minfin-kz/kopir/internal/jobs"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// replayer stands in for the delivery worker: a replay of anything is
// accepted, so that what decides the answer is the role alone.
type replayer struct{}

func (replayer) Replay(_ context.Context, id, _ string) (*store.Message, error) {
	return &store.Message{ID: id, Status: store.Queued}, nil
}
func (replayer) StartBulk(_ store.Filter, op string) *jobs.Job { return jobs.NewJob("job1", op) }
func (replayer) Job(id string) (*jobs.Job, bool)               { return jobs.NewJob(id, "x"), true }

func server(t *testing.T) (*admin.Server, *store.SQLStore) {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/k.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var admins []config.Admin
	for _, r := range config.Roles {
		admins = append(admins, config.Admin{Caller: config.Caller{Name: string(r) + "-1", TokenSHA256: config.HashToken(string(r) + "-token")}, Role: r})
	}
	led := ledger.New(st, nil, "", slog.Default())
	tbl, err := routes.Build(nil, routes.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return &admin.Server{Admins: admins, Store: st, Replayer: replayer{}, Held: &held.Service{Store: st, Ledger: led, Routes: tbl}, Breakers: func() []admin.BreakerState { return nil },
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "# metrics\n") }),
		Ready:   func() error { return nil }, Denials: led, Log: slog.Default(),
		Guard: &httpguard.Listener{Name: "admin", Limits: config.DefaultHTTPLimits, Ledger: led, Log: slog.Default()}}, st
}

// Each endpoint against each role. "-" is the answer without a token.
// pprof's profile and trace run for seconds; the index stands for them.
func TestEachRoleOnEachEndpoint(t *testing.T) {
	const ok, no = true, false
	cases := []struct {
		method, path                     string
		viewer, operator, auditor, admin bool
	}{
		{"GET", "/admin/v1/messages", ok, ok, ok, ok},
		{"GET", "/admin/v1/messages/m1", ok, ok, ok, ok},
		{"POST", "/admin/v1/messages/m1/replay", no, ok, no, ok},
		{"POST", "/admin/v1/replay", no, ok, no, ok},
		{"GET", "/admin/v1/replay/job1", ok, ok, ok, ok},
		{"GET", "/admin/v1/breakers", ok, ok, ok, ok},
		{"GET", "/admin/v1/audit/verify", no, no, ok, ok},
		{"GET", "/admin/v1/stats", ok, ok, ok, ok},
		{"GET", "/admin/v1/clock", ok, ok, ok, ok},
		{"PUT", "/admin/v1/clock", no, no, no, ok},
		{"GET", "/debug/pprof/", no, no, no, ok},
		{"GET", "/admin/v1/held", ok, ok, ok, ok},
		{"GET", "/admin/v1/held/counts", ok, ok, ok, ok},
		{"GET", "/admin/v1/held/m1", ok, ok, ok, ok},
		{"POST", "/admin/v1/held/m1/check", ok, ok, ok, ok},
		{"GET", "/admin/v1/held/m1/payload", no, ok, no, ok},
		{"POST", "/admin/v1/held/m1/changes", no, ok, no, ok},
		{"POST", "/admin/v1/held/m1/changes/c1/approve", no, ok, no, ok},
		{"POST", "/admin/v1/held/m1/changes/c1/decline", no, ok, no, ok},
		{"POST", "/admin/v1/held/m1/resubmit", no, ok, no, ok},
		{"POST", "/admin/v1/held/m1/discard", no, ok, no, ok},
	}
	s, st := server(t)
	s.Clock = clock.NewSimulated(time.Now())
	h := s.Handler()
	denied := 0
	for _, c := range cases {
		for role, allowed := range map[config.Role]bool{config.RoleViewer: c.viewer, config.RoleOperator: c.operator, config.RoleAuditor: c.auditor, config.RoleAdmin: c.admin} {
			t.Run(c.method+" "+c.path+" as "+string(role), func(t *testing.T) {
				body := ""
				switch c.path {
				case "/admin/v1/replay":
					body = `{"status":"DEAD"}`
				case "/admin/v1/clock":
					body = `{"advance":"1m"}`
				}
				rec := call(h, c.method, c.path, string(role)+"-token", body)
				if !allowed {
					denied++
					p := forbidden(t, rec)
					if !strings.Contains(p.Detail, "has role "+string(role)) || !strings.Contains(p.Detail, "needs role ") {
						t.Errorf("detail %q names neither the role held nor the one needed", p.Detail)
					}
					return
				}
				// Allowed: whatever the endpoint answers (404 for an unknown
				// message), it is not the role check's refusal.
				if rec.Code == http.StatusForbidden || rec.Code == http.StatusUnauthorized {
					t.Errorf("%d %s", rec.Code, rec.Body)
				}
			})
		}
		if rec := call(h, c.method, c.path, "", ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d", c.method, c.path, rec.Code)
		}
		if rec := call(h, c.method, c.path, "wrong-token", ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s with an unknown token: %d", c.method, c.path, rec.Code)
		}
	}
	// Probes and scrapers hold no token.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if rec := call(h, "GET", path, "", ""); rec.Code != http.StatusOK {
			t.Errorf("%s: %d", path, rec.Code)
		}
	}
	// Every refusal is in the audit log, naming the admin, method and path.
	recs, err := st.Audit(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	forbiddenEntries := 0
	for _, r := range recs {
		if r.Action == string(ledger.Forbidden) {
			forbiddenEntries++
		}
	}
	if forbiddenEntries != denied || denied == 0 {
		t.Errorf("%d refusals, %d FORBIDDEN audit entries", denied, forbiddenEntries)
	}
}

// The table decides: every endpoint is in it with a known role (or open).
func TestEveryEndpointDeclaresItsRole(t *testing.T) {
	s, _ := server(t)
	known := map[config.Role]bool{admin.Open: true}
	for _, r := range config.Roles {
		known[r] = true
	}
	for _, e := range s.Endpoints() {
		if !known[e.Role] {
			t.Errorf("%s: role %q", e.Pattern, e.Role)
		}
		// Open: probes, the scraper, and the API's own description.
		if e.Role == admin.Open && !strings.HasSuffix(e.Pattern, "z") && e.Pattern != "GET /metrics" && e.Pattern != "GET /openapi.json" {
			t.Errorf("%s is open to anyone", e.Pattern)
		}
	}
}

func TestForbiddenIsAudited(t *testing.T) {
	s, st := server(t)
	rec := call(s.Handler(), "POST", "/admin/v1/messages/m-42/replay", "auditor-token", "")
	p := forbidden(t, rec)
	want := `admin "auditor-1" has role auditor; POST /admin/v1/messages/{id}/replay needs role operator (or admin)`
	if p.Detail != want {
		t.Errorf("detail %q\nwant   %q", p.Detail, want)
	}
	recs, err := st.Audit(context.Background(), "")
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v %+v", err, recs)
	}
	r := recs[0]
	if r.Actor != "auditor-1" || r.Action != "FORBIDDEN" || r.Detail != "POST /admin/v1/messages/m-42/replay refused: role auditor, needs operator" {
		t.Errorf("audit entry %+v", r)
	}
	if v, err := st.VerifyAudit(context.Background()); err != nil || !v.OK {
		t.Errorf("chain after a refusal: %+v %v", v, err)
	}
}

// The CLI's client turns a 403 into an error saying which role is needed.
func TestClientShowsForbidden(t *testing.T) {
	s, _ := server(t)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := &admin.Client{BaseURL: srv.URL, Token: "viewer-token", HTTP: srv.Client()}
	_, err := c.Replay(context.Background(), "m1")
	var fe *admin.ForbiddenError
	var p *problem.Problem
	if !errors.As(err, &fe) || !errors.As(err, &p) || p.Status != 403 {
		t.Fatalf("%T %v", err, err)
	}
	want := `forbidden: admin "viewer-1" has role viewer; POST /admin/v1/messages/{id}/replay needs role operator (or admin); use an admin token with that role (KOPIR_ADMIN_TOKEN)`
	if err.Error() != want {
		t.Errorf("%s\nwant %s", err, want)
	}
	if _, err := c.Stats(context.Background(), nil); err != nil {
		t.Errorf("a viewer reads stats: %v", err)
	}
}

func call(h http.Handler, method, path, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func forbidden(t *testing.T, rec *httptest.ResponseRecorder) problem.Problem {
	t.Helper()
	var p problem.Problem
	if rec.Code != http.StatusForbidden || rec.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil {
		t.Fatalf("want 403 problem+json, got %d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	return p
}
