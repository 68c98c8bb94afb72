package deploytest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/minfin-kz/kopir/internal/config"
)

const composeFile = "../compose/compose.yaml"

// composeProject is the part of the Compose file format compose.yaml uses,
// decoded strictly.
type composeProject struct {
	Name     string                    `yaml:"name"`
	XKopir   yaml.Node                 `yaml:"x-kopir"`
	XNats    yaml.Node                 `yaml:"x-nats"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
		Target     string `yaml:"target"`
	} `yaml:"build"`
	Image           string            `yaml:"image"`
	Command         []string          `yaml:"command"`
	Environment     map[string]string `yaml:"environment"`
	Volumes         []string          `yaml:"volumes"`
	Tmpfs           []string          `yaml:"tmpfs"`
	ReadOnly        bool              `yaml:"read_only"`
	User            string            `yaml:"user"`
	CapDrop         []string          `yaml:"cap_drop"`
	SecurityOpt     []string          `yaml:"security_opt"`
	Restart         string            `yaml:"restart"`
	StopGracePeriod string            `yaml:"stop_grace_period"`
	DependsOn       map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Ports       []string `yaml:"ports"`
	Healthcheck *struct {
		Test     []string `yaml:"test"`
		Interval string   `yaml:"interval"`
		Timeout  string   `yaml:"timeout"`
		Retries  int      `yaml:"retries"`
	} `yaml:"healthcheck"`
}

func parseCompose(raw []byte) (*composeProject, error) {
	var p composeProject
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// flagValue is the value after flag in a command line.
func flagValue(cmd []string, flag string) string {
	if i := slices.Index(cmd, flag); i >= 0 && i+1 < len(cmd) {
		return cmd[i+1]
	}
	return ""
}

// checkCompose: three bus nodes, each loading the config it mounts with
// the environment it is given and publishing exactly its listeners; a
// three-server JetStream cluster every node is pointed at; PostgreSQL with
// synchronous_commit on; only variables the binary reads.
func checkCompose(t *testing.T, p *composeProject) problems {
	var pr problems
	var nodes, natsServers []string
	for name, s := range p.Services {
		if s.Build != nil && s.Build.Target == "kopir" {
			nodes = append(nodes, name)
		}
		if strings.HasPrefix(s.Image, "nats:") {
			natsServers = append(natsServers, name)
		}
	}
	slices.Sort(nodes)
	slices.Sort(natsServers)
	if len(nodes) != 3 {
		pr.add("compose: %d bus nodes %v, want 3", len(nodes), nodes)
	}
	if len(natsServers) != 3 {
		pr.add("compose: %d NATS servers %v, want 3", len(natsServers), natsServers)
	}
	for _, name := range natsServers {
		cmd := p.Services[name].Command
		if !slices.Contains(cmd, "--jetstream") || flagValue(cmd, "--store_dir") == "" || flagValue(cmd, "--cluster_name") == "" {
			pr.add("compose %s: want --jetstream with a --store_dir in a --cluster_name cluster: %q", name, cmd)
		}
		for _, other := range natsServers {
			if other != name && !strings.Contains(flagValue(cmd, "--routes"), "nats://"+other+":") {
				pr.add("compose %s: --routes does not name %s", name, other)
			}
		}
	}
	if pg, ok := p.Services["postgres"]; !ok || !slices.Contains(pg.Command, "synchronous_commit=on") {
		pr.add("compose postgres: run with -c synchronous_commit=on")
	}
	for name, s := range p.Services {
		for env := range s.Environment {
			if strings.HasPrefix(env, "KOPIR_") && !config.IsEnvName(env) {
				pr.add("compose %s: env %s: the kopir binary does not read it", name, env)
			}
		}
	}
	for _, name := range nodes {
		pr = append(pr, checkComposeNode(t, p, name, natsServers)...)
	}
	return pr
}

func checkComposeNode(t *testing.T, p *composeProject, name string, natsServers []string) problems {
	var pr problems
	s := p.Services[name]
	for env := range s.Environment {
		if !config.IsEnvName(env) {
			pr.add("compose %s: env %s: the kopir binary does not read it", name, env)
		}
	}
	for _, srv := range natsServers {
		if !strings.Contains(s.Environment["KOPIR_NATS_URL"], "nats://"+srv+":4222") {
			pr.add("compose %s: KOPIR_NATS_URL does not name %s", name, srv)
		}
	}
	path := flagValue(s.Command, "-config")
	var host string
	for _, v := range s.Volumes {
		if parts := strings.Split(v, ":"); len(parts) >= 2 && parts[1] == path {
			host = parts[0]
		}
	}
	if s.Command[0] != "serve" || host == "" {
		pr.add("compose %s: want serve -config FILE with FILE mounted from the repository, got %q", name, s.Command)
		return pr
	}
	raw, err := os.ReadFile("../compose/" + strings.TrimPrefix(host, "./"))
	if err != nil {
		pr.add("compose %s: %v", name, err)
		return pr
	}
	for _, env := range config.EnvNames() {
		t.Setenv(env, "")
		os.Unsetenv(env)
	}
	for k, v := range s.Environment {
		t.Setenv(k, v)
	}
	cfg, err := config.Parse(path, raw)
	if err != nil {
		pr.add("compose %s: config: %v", name, err)
		return pr
	}
	if !strings.HasPrefix(cfg.Database, "postgres://") || cfg.NATS == "" || cfg.Redis == "" {
		pr.add("compose %s: a cluster node needs PostgreSQL, external NATS and Redis", name)
	}
	if cfg.NATSReplicas != 3 {
		pr.add("compose %s: natsReplicas %d: the compose file runs three NATS servers, give the stream 3 replicas", name, cfg.NATSReplicas)
	}
	published := map[string]bool{}
	for _, port := range s.Ports {
		parts := strings.Split(port, ":")
		published[parts[len(parts)-1]] = true
	}
	for listener, addr := range map[string]string{"internal": cfg.Listen.Internal, "agency": cfg.Listen.Agency, "admin": cfg.Listen.Admin} {
		h, port, _ := net.SplitHostPort(addr)
		if h != "0.0.0.0" && h != "" {
			pr.add("compose %s: listen.%s %s is not reachable from outside the container", name, listener, addr)
		}
		if !published[port] {
			pr.add("compose %s: listen.%s port %s is not published", name, listener, port)
		}
		delete(published, port)
	}
	for port := range published {
		pr.add("compose %s: publishes %s, which no listener of its config serves", name, port)
	}
	if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") || s.User == "" || strings.HasPrefix(s.User, "0") {
		pr.add("compose %s: run read_only, as a non-root user, with cap_drop ALL", name)
	}
	if !slices.ContainsFunc(s.Tmpfs, func(m string) bool { return strings.HasPrefix(m, cfg.DataDir+":") || m == cfg.DataDir }) {
		pr.add("compose %s: dataDir %s needs a tmpfs on a read-only container", name, cfg.DataDir)
	}
	return pr
}

func TestComposeCluster(t *testing.T) {
	raw, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseCompose(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range checkCompose(t, p) {
		t.Error(pr)
	}
}

func TestComposeChecksCatchMutations(t *testing.T) {
	raw, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ name, old, new, want string }{
		{"unknown key", "stop_grace_period: 30s", "stop_grace_periods: 30s", "field stop_grace_periods not found"},
		{"variable nothing reads", "KOPIR_REDIS_URL: redis", "KOPIR_REDIS: redis", "env KOPIR_REDIS: the kopir binary does not read it"},
		{"a listener moved", "KOPIR_ADMIN_URL: http://127.0.0.1:8082", "KOPIR_LISTEN_ADMIN: 0.0.0.0:9082", "listen.admin port 9082 is not published"},
		{"two bus nodes", "  kopir-3:\n    <<: *kopir\n", "  other:\n    image: busybox\n", "2 bus nodes"},
		{"a NATS server left out of the routes", `--routes, "nats://nats-2:6222,nats://nats-3:6222"`, `--routes, "nats://nats-2:6222"`, "compose nats-1: --routes does not name nats-3"},
		{"asynchronous commit", "synchronous_commit=on", "synchronous_commit=off", "synchronous_commit=on"},
		{"not read-only", "  read_only: true\n  user:", "  read_only: false\n  user:", "run read_only"},
	} {
		t.Run(m.name, func(t *testing.T) {
			bad := strings.Replace(string(raw), m.old, m.new, 1)
			if bad == string(raw) {
				t.Fatalf("compose.yaml has no %q to mutate", m.old)
			}
			p, err := parseCompose([]byte(bad))
			var got problems
			if err != nil {
				got.add("%v", err)
			} else {
				got = checkCompose(t, p)
			}
			if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, m.want) }) {
				t.Errorf("not caught: want %q, got %s", m.want, fmt.Sprint(got))
			}
		})
	}
}
