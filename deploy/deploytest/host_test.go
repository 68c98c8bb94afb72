package deploytest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/config"
)

const (
	unitFile      = "../systemd/kopir.service"
	envExample    = "../systemd/kopir.env.example"
	containerFile = "../Containerfile"
)

// unit is a systemd unit file: each section's directives, in order.
type unit map[string][][2]string

func parseUnit(raw []byte) unit {
	u := unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, _ := strings.Cut(line, "=")
			u[section] = append(u[section], [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	return u
}

func (u unit) values(key string) []string {
	var out []string
	for _, kv := range u["Service"] {
		if kv[0] == key {
			out = append(out, kv[1])
		}
	}
	return out
}

func checkUnit(u unit) problems {
	var p problems
	for key, want := range map[string]string{
		"DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
		"StateDirectory": "kopir", "CapabilityBoundingSet": "", "SystemCallFilter": "@system-service", "RestrictNamespaces": "yes",
		"PrivateDevices": "yes", "KillSignal": "SIGTERM",
	} {
		if !slices.Contains(u.values(key), want) {
			p.add("unit: want %s=%s, got %q", key, want, u.values(key))
		}
	}
	for _, fam := range u.values("RestrictAddressFamilies") {
		for _, f := range strings.Fields(fam) {
			if !slices.Contains([]string{"AF_INET", "AF_INET6", "AF_UNIX"}, f) {
				p.add("unit: RestrictAddressFamilies allows %s", f)
			}
		}
	}
	if len(u.values("RestrictAddressFamilies")) == 0 {
		p.add("unit: no RestrictAddressFamilies")
	}
	if ef := u.values("EnvironmentFile"); len(ef) != 1 || strings.HasPrefix(ef[0], "-") {
		p.add("unit: want one EnvironmentFile that must exist (no '-'): without it the bus runs on SQLite, alone: %q", ef)
	}
	for _, e := range u.values("Environment") {
		for _, kv := range strings.Fields(e) {
			name, _, _ := strings.Cut(strings.Trim(kv, `"`), "=")
			if !config.IsEnvName(name) {
				p.add("unit: Environment %s: the kopir binary does not read it", name)
			}
			if slices.Contains(secretEnv, name) {
				p.add("unit: Environment %s carries a credential: put it in the EnvironmentFile", name)
			}
		}
	}
	exec := u.values("ExecStart")
	if len(exec) != 1 {
		p.add("unit: want one ExecStart, got %q", exec)
		return p
	}
	args := strings.Fields(exec[0])
	if len(args) < 4 || filepath.Base(args[0]) != "kopir" || args[1] != "serve" || flagValue(args, "-config") == "" {
		p.add("unit: ExecStart %q is not kopir serve -config FILE", exec[0])
	}
	stop, err := time.ParseDuration(strings.Join(u.values("TimeoutStopSec"), ""))
	// The unit's config is the operator's: it is checked against the
	// default shutdownGrace, which the unit's comment names.
	if err != nil || stop < config.DefaultShutdownGrace+windDown {
		p.add("unit: TimeoutStopSec %q must cover the bus's default shutdownGrace %s + %s to wind down", u.values("TimeoutStopSec"), config.DefaultShutdownGrace, windDown)
	}
	return p
}

func TestSystemdUnit(t *testing.T) {
	raw, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range checkUnit(parseUnit(raw)) {
		t.Error(pr)
	}
	env, err := os.ReadFile(envExample)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(env)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "=")
		if !config.IsEnvName(name) {
			t.Errorf("%s: %s: the kopir binary does not read it", envExample, name)
		}
	}
}

func TestSystemdUnitChecksCatchMutations(t *testing.T) {
	raw, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ old, new, want string }{
		{"DynamicUser=yes", "DynamicUser=no", "DynamicUser=yes"},
		{"ProtectSystem=strict", "ProtectSystem=full", "ProtectSystem=strict"},
		{"CapabilityBoundingSet=\n", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n", "CapabilityBoundingSet="},
		{"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "RestrictAddressFamilies=AF_INET AF_NETLINK", "allows AF_NETLINK"},
		{"EnvironmentFile=/etc", "EnvironmentFile=-/etc", "must exist"},
		{"Environment=GOMEMLIMIT=768MiB", "Environment=KOPIR_MEMLIMIT=768MiB", "Environment KOPIR_MEMLIMIT"},
		{"Environment=GOMEMLIMIT=768MiB", "Environment=KOPIR_PERSONAL_DATA_KEY=x", "carries a credential"},
		{"TimeoutStopSec=30s", "TimeoutStopSec=5s", "TimeoutStopSec"},
		{"serve -config /etc/kopir/kopir.yaml", "serve", "is not kopir serve -config FILE"},
	} {
		bad := strings.Replace(string(raw), m.old, m.new, 1)
		if bad == string(raw) {
			t.Fatalf("unit has no %q to mutate", m.old)
		}
		got := checkUnit(parseUnit([]byte(bad)))
		if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, m.want) }) {
			t.Errorf("%s -> %s not caught: want %q, got %q", m.old, m.new, m.want, got)
		}
	}
}

// TestSystemdAnalyzeVerify runs systemd's own checks of the unit where
// systemd-analyze is installed (nothing is installed for it). ExecStart
// is pointed at an executable that exists here: verify refuses a missing
// binary, and the unit names where kopir is installed on a host.
func TestSystemdAnalyzeVerify(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: only its check is skipped, TestSystemdUnit still runs")
	}
	raw, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.Replace(raw, []byte("ExecStart=/usr/local/bin/kopir "), []byte("ExecStart="+self+" "), 1)
	dir := t.TempDir()
	unit := filepath.Join(dir, "kopir.service")
	if err := os.WriteFile(unit, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The check can fail: a misspelt directive is reported.
	bad := filepath.Join(dir, "bad", "kopir.service")
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, bytes.Replace(raw, []byte("ProtectHome=yes"), []byte("ProtectHome=maybe"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command(bin, "verify", bad).CombinedOutput(); !bytes.Contains(out, []byte("maybe")) {
		t.Errorf("systemd-analyze verify did not report ProtectHome=maybe: %s", out)
	}
}

// TestContainerfile reads what cannot be built here: the build links
// libxml2 and libcrypto through cgo, the image runs the bus as a non-root user with
// the config path the Kubernetes base mounts, and carries no shell.
func TestContainerfile(t *testing.T) {
	raw, err := os.ReadFile(containerFile)
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	var last []string
	for line := range strings.Lines(string(raw)) {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if strings.EqualFold(f[0], "FROM") {
			stages = append(stages, line)
			last = nil
		}
		last = append(last, strings.TrimSpace(line))
	}
	text := string(raw)
	for _, want := range []string{"CGO_ENABLED=1", "libxml2-dev", "libssl-dev", "go build -trimpath", "-tags grpcnotrace", "./cmd/kopir "} {
		if !strings.Contains(text, want) {
			t.Errorf("Containerfile: the build stage lacks %q", want)
		}
	}
	if len(stages) < 2 || !strings.Contains(stages[len(stages)-1], "distroless") || !strings.HasSuffix(strings.TrimSpace(stages[len(stages)-1]), "AS kopir") {
		t.Errorf("Containerfile: the last stage (the default target) must be the distroless kopir image: %q", stages)
	}
	final := strings.Join(last, "\n")
	for _, want := range []string{"USER 65532:65532", `ENTRYPOINT ["/usr/local/bin/kopir"]`, "EXPOSE 8080 8081 8082"} {
		if !strings.Contains(final, want) {
			t.Errorf("Containerfile: the kopir stage lacks %q", want)
		}
	}
	if strings.Contains(final, "RUN ") || strings.Contains(final, "/bin/sh") {
		t.Error("Containerfile: the runtime stage has no shell to RUN anything with")
	}
}
