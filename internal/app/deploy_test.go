package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/minfin-kz/kopir/internal/config"
)

// The alert rules and the dashboard in deploy/ name only metrics the bus
// exports, so that neither silently watches nothing after a rename.
const (
	alertRulesFile = "deploy/prometheus/kopir-alerts.yaml"
	dashboardFile  = "deploy/grafana/kopir.json"
	operationsDoc  = "docs/operations.md"
)

// pendingMetrics are names the deploy files may use before the bus
// exports them, each with the work that will export it. A rule on such a
// name must say so in its "pending" annotation.
var pendingMetrics = map[string]string{}

// alertRules is the Prometheus rule file format, as much of it as is
// checked.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestDeployFilesNameExportedMetrics(t *testing.T) {
	t.Chdir("../..")
	exported := busMetricNames(t)
	for name := range pendingMetrics {
		if exported[name] {
			t.Errorf("%s is exported now: take it off pendingMetrics and its rule's pending annotation", name)
		}
	}

	ruleNames := checkAlertRules(t)
	dashNames := checkDashboard(t)

	for file, used := range map[string]map[string]bool{alertRulesFile: ruleNames, dashboardFile: dashNames} {
		for _, name := range slices.Sorted(mapsKeys(used)) {
			if !isExported(name, exported) && pendingMetrics[name] == "" {
				t.Errorf("%s names %s, which the bus does not export", file, name)
			}
		}
	}
	// What issue 12 asks the alerts and the dashboard to watch.
	for _, name := range []string{"kopir_breaker_state", "kopir_deliveries_total", "kopir_queue_oldest_age_seconds", "kopir_audit_chain_broken", "kopir_held_messages"} {
		if !ruleNames[name] {
			t.Errorf("no alert rule watches %s", name)
		}
	}
	for _, name := range []string{"kopir_requests_total", "kopir_request_duration_seconds_bucket", "kopir_breaker_state", "kopir_queue_depth",
		"kopir_queue_oldest_age_seconds", "kopir_deliveries_total", "kopir_inbound_total", "kopir_channel_revocation_total",
		"kopir_ocsp_queries_total", "kopir_http_refused_total"} {
		if !dashNames[name] {
			t.Errorf("no dashboard panel shows %s", name)
		}
	}
}

// busMetricNames builds the bus from the demo config as kopir serve does,
// with the channel verifying signatures itself and asking OCSP so that
// the signing layer's instruments are registered too, and lists every
// metric its registry describes. Descriptions, not a scrape of /metrics:
// a labelled metric shows on /metrics only after its first observation,
// and an alert may rightly name one that has none yet.
func busMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile("deploy/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ncanode := "provider: ncanode\n        url: http://127.0.0.1:8090/ncanode\n        revocationCheck: [CRL]"
	local := "roots: [mocks/pki/ca.pem]\n        crls: [mocks/pki/crl.pem]\n        ocsp: {url: http://127.0.0.1:8090/ocsp}"
	if !strings.Contains(string(raw), ncanode) {
		t.Fatal("the demo config's SHEP trust block changed: update the test's OCSP variant")
	}
	cfg, err := config.Parse("deploy/local.yaml", []byte(strings.Replace(string(raw), ncanode, local, 1)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir, cfg.Database, cfg.NATS, cfg.Redis = t.TempDir(), "", "", ""
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	descs := make(chan *prometheus.Desc)
	go func() { a.Metrics.Registry.Describe(descs); close(descs) }()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range descs {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		names[m[1]] = true
	}
	if !names["kopir_ocsp_queries_total"] || !names["kopir_channel_revocation_total"] {
		t.Fatal("the adapters' instruments are missing: the test no longer builds the bus it means to")
	}
	return names
}

// isExported says whether name is a metric of exported, or a series of one
// of its histograms.
func isExported(name string, exported map[string]bool) bool {
	if exported[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && exported[base] {
			return true
		}
	}
	return false
}

// promIdentifier is a PromQL metric or label name; the bus's metrics are
// those with its prefix.
var promIdentifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)

// metricNames are the bus's metric names an expression mentions.
func metricNames(expr string) []string {
	var out []string
	for _, id := range promIdentifier.FindAllString(expr, -1) {
		if strings.HasPrefix(id, "kopir_") {
			out = append(out, id)
		}
	}
	return out
}

func checkAlertRules(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(alertRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rules alertRules
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("%s: %v", alertRulesFile, err)
	}
	anchors := docAnchors(t)
	docLink := regexp.MustCompile(regexp.QuoteMeta(operationsDoc) + `#([a-z0-9-]+)`)
	used := map[string]bool{}
	seen := map[string]bool{}
	if len(rules.Groups) == 0 {
		t.Fatalf("%s: no groups", alertRulesFile)
	}
	for _, g := range rules.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("%s: a group needs a name and rules: %q has %d", alertRulesFile, g.Name, len(g.Rules))
		}
		for _, r := range g.Rules {
			where := alertRulesFile + ": " + r.Alert
			switch {
			case r.Alert == "":
				t.Errorf("%s: a rule without alert (record %q): only alerts belong here", alertRulesFile, r.Record)
				continue
			case seen[r.Alert]:
				t.Errorf("%s: alert named twice", where)
			}
			seen[r.Alert] = true
			if strings.TrimSpace(r.Expr) == "" {
				t.Errorf("%s: no expr", where)
			}
			if _, err := time.ParseDuration(r.For); err != nil {
				t.Errorf("%s: for %q: %v", where, r.For, err)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", where, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: summary and description are both needed", where)
			}
			link := docLink.FindStringSubmatch(r.Annotations["description"])
			switch {
			case link == nil:
				t.Errorf("%s: the description does not point to %s#…", where, operationsDoc)
			case !anchors[link[1]]:
				t.Errorf("%s: %s has no section #%s", where, operationsDoc, link[1])
			}
			pending := false
			for _, name := range metricNames(r.Expr) {
				used[name] = true
				pending = pending || pendingMetrics[name] != ""
			}
			if pending != (r.Annotations["pending"] != "") {
				t.Errorf("%s: a pending annotation belongs on exactly the rules that name a pending metric", where)
			}
		}
	}
	return used
}

// docAnchors are the link targets GitHub makes of the headings of the
// operations guide.
func docAnchors(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	out := map[string]bool{}
	for line := range strings.Lines(string(raw)) {
		if h, ok := strings.CutPrefix(line, "#"); ok {
			h = strings.TrimSpace(strings.TrimLeft(h, "#"))
			out[strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(h), ""), " ", "-")] = true
		}
	}
	return out
}

// dashboard is the Grafana JSON model, as much of it as is checked.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int     `json:"id"`
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"` // a collapsed row's
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func checkDashboard(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("%s: title and uid are needed to import it", dashboardFile)
	}
	used := map[string]bool{}
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d twice", dashboardFile, p.ID)
			}
			ids[p.ID] = true
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if p.Title == "" || len(p.Targets) == 0 {
				t.Errorf("%s: panel %d needs a title and a query", dashboardFile, p.ID)
			}
			for _, q := range p.Targets {
				if strings.TrimSpace(q.Expr) == "" {
					t.Errorf("%s: panel %q has an empty query", dashboardFile, p.Title)
				}
				for _, name := range metricNames(q.Expr) {
					used[name] = true
				}
			}
		}
	}
	walk(d.Panels)
	if len(ids) == 0 {
		t.Fatalf("%s: no panels", dashboardFile)
	}
	for _, v := range d.Templating.List {
		// A query variable's query is an object or a string by Grafana
		// version; its metric names are found either way.
		for _, name := range metricNames(string(v.Query)) {
			used[name] = true
		}
	}
	return used
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// The name extraction finds the bus's metrics in PromQL and nothing else,
// and a histogram's series count as the histogram.
func TestMetricNames(t *testing.T) {
	exported := map[string]bool{"kopir_request_duration_seconds": true, "kopir_requests_total": true}
	for _, c := range []struct {
		expr     string
		want     []string
		exported []bool
	}{
		{`histogram_quantile(0.99, sum by (route, le) (rate(kopir_request_duration_seconds_bucket{route=~"$route"}[5m])))`,
			[]string{"kopir_request_duration_seconds_bucket"}, []bool{true}},
		{`sum(rate(kopir_requests_total{outcome="failed"}[5m])) / sum(rate(kopir_requests_total[5m]))`,
			[]string{"kopir_requests_total", "kopir_requests_total"}, []bool{true, true}},
		{`up{job="kopir"} == 0`, nil, nil},
		{`kopir_requests_totals > 0 or kopir_request_duration_seconds_max`,
			[]string{"kopir_requests_totals", "kopir_request_duration_seconds_max"}, []bool{false, false}},
		{`sum by (route) (kopir_held_messages) > 0 and notkopir_x`, []string{"kopir_held_messages"}, []bool{false}},
	} {
		got := metricNames(c.expr)
		if !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%q) = %v, want %v", c.expr, got, c.want)
			continue
		}
		for i, name := range got {
			if isExported(name, exported) != c.exported[i] {
				t.Errorf("isExported(%s) = %v, want %v", name, !c.exported[i], c.exported[i])
			}
		}
	}
}
