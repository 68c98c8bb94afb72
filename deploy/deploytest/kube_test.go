package deploytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	k8sjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"

	_ "github.com/minfin-kz/kopir/adapters/all"
	"github.com/minfin-kz/kopir/internal/admin"
	"github.com/minfin-kz/kopir/internal/config"
)

const (
	baseDir    = "../kubernetes/base"
	overlayDir = "../kubernetes/overlays/three-nodes"
	// windDown is what the bus needs after its listeners have drained:
	// the delivery worker's in-flight attempts are cancelled and nacked,
	// then the store and the broker connection are closed.
	windDown = 5 * time.Second
)

// secretEnv are the variables that carry a credential (a DSN holds a
// password): a manifest takes them from a Secret, never as a literal.
var secretEnv = []string{"KOPIR_DATABASE_URL", "KOPIR_REDIS_URL", "KOPIR_PERSONAL_DATA_KEY", config.EnvAdminToken}

// kustomization is the part of kustomize's file these manifests use,
// decoded strictly: a field kustomize has but this test does not know is
// an error, so that it is not silently left unchecked.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors"`
	} `json:"labels"`
	ConfigMapGenerator []struct {
		Name  string   `json:"name"`
		Files []string `json:"files"`
	} `json:"configMapGenerator"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
	Patches []struct {
		Path string `json:"path"`
	} `json:"patches"`
}

// bundle is a kustomization's objects as kustomize would emit them, as far
// as these checks need: labels applied, the config map generated, overlay
// patches merged.
type bundle struct {
	deploy   *appsv1.Deployment
	services []*corev1.Service
	pdb      *policyv1.PodDisruptionBudget
	hpa      *autoscalingv2.HorizontalPodAutoscaler
	monitor  *monitoringv1.ServiceMonitor
	// configs are the generated config maps' files by map name and key.
	configs map[string]map[string]string
	images  map[string]string
}

func readKustomization(dir string) (kustomization, error) {
	var k kustomization
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return k, err
	}
	if err := strict(raw, &k); err != nil {
		return k, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		return k, fmt.Errorf("%s/kustomization.yaml: apiVersion/kind %s/%s", dir, k.APIVersion, k.Kind)
	}
	return k, nil
}

// documents splits a YAML stream into its documents.
func documents(raw []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			docs = append(docs, doc)
		}
	}
}

func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

// decode parses one manifest strictly into its Kubernetes API type: an
// unknown or misspelt field, or a kind this test does not know, fails.
func decode(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := sigsyaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		obj = &appsv1.Deployment{}
	case "v1 Service":
		obj = &corev1.Service{}
	case "policy/v1 PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	case "autoscaling/v2 HorizontalPodAutoscaler":
		obj = &autoscalingv2.HorizontalPodAutoscaler{}
	case "monitoring.coreos.com/v1 ServiceMonitor":
		obj = &monitoringv1.ServiceMonitor{}
	default:
		return nil, fmt.Errorf("unexpected kind %s %s", tm.APIVersion, tm.Kind)
	}
	if err := strict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return obj, nil
}

// strict decodes YAML as the API server does: a key given twice, a field
// the type lacks, or one in the wrong case (encoding/json alone would take
// readOnlyRootFileSystem for readOnlyRootFilesystem) is an error.
func strict(doc []byte, obj any) error {
	j, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := k8sjson.UnmarshalStrict(j, obj, k8sjson.DisallowDuplicateFields, k8sjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// loadBase reads a base kustomization; files overrides what is on disk
// (by file name), for the tests that mutate a manifest's text.
func loadBase(dir string, files map[string][]byte) (*bundle, error) {
	k, err := readKustomization(dir)
	if err != nil {
		return nil, err
	}
	read := func(name string) ([]byte, error) {
		if b, ok := files[name]; ok {
			return b, nil
		}
		return os.ReadFile(filepath.Join(dir, name))
	}
	b := &bundle{configs: map[string]map[string]string{}, images: map[string]string{}}
	for _, res := range k.Resources {
		raw, err := read(res)
		if err != nil {
			return nil, err
		}
		docs, err := documents(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", res, err)
		}
		for _, doc := range docs {
			obj, err := decode(doc)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", res, err)
			}
			if err := b.add(obj); err != nil {
				return nil, fmt.Errorf("%s: %w", res, err)
			}
		}
	}
	for _, l := range k.Labels {
		if l.IncludeSelectors {
			return nil, errors.New("kustomization: labels with includeSelectors are not modelled by this test")
		}
		for _, m := range b.metas() {
			if m.Labels == nil {
				m.Labels = map[string]string{}
			}
			for k, v := range l.Pairs {
				m.Labels[k] = v
			}
		}
	}
	for _, g := range k.ConfigMapGenerator {
		b.configs[g.Name] = map[string]string{}
		for _, f := range g.Files {
			raw, err := read(f)
			if err != nil {
				return nil, fmt.Errorf("configMapGenerator %s: %w", g.Name, err)
			}
			b.configs[g.Name][filepath.Base(f)] = string(raw)
		}
	}
	for _, im := range k.Images {
		b.images[im.Name] = im.NewName + ":" + im.NewTag
	}
	return b, nil
}

func (b *bundle) add(obj any) error {
	dup := func(kind string) error { return fmt.Errorf("a second %s: the checks expect one", kind) }
	switch o := obj.(type) {
	case *appsv1.Deployment:
		if b.deploy != nil {
			return dup("Deployment")
		}
		b.deploy = o
	case *corev1.Service:
		b.services = append(b.services, o)
	case *policyv1.PodDisruptionBudget:
		if b.pdb != nil {
			return dup("PodDisruptionBudget")
		}
		b.pdb = o
	case *autoscalingv2.HorizontalPodAutoscaler:
		if b.hpa != nil {
			return dup("HorizontalPodAutoscaler")
		}
		b.hpa = o
	case *monitoringv1.ServiceMonitor:
		if b.monitor != nil {
			return dup("ServiceMonitor")
		}
		b.monitor = o
	}
	return nil
}

func (b *bundle) metas() []*metav1.ObjectMeta {
	var ms []*metav1.ObjectMeta
	if b.deploy != nil {
		ms = append(ms, &b.deploy.ObjectMeta)
	}
	for _, s := range b.services {
		ms = append(ms, &s.ObjectMeta)
	}
	if b.pdb != nil {
		ms = append(ms, &b.pdb.ObjectMeta)
	}
	if b.hpa != nil {
		ms = append(ms, &b.hpa.ObjectMeta)
	}
	if b.monitor != nil {
		ms = append(ms, &b.monitor.ObjectMeta)
	}
	return ms
}

// loadOverlay reads an overlay whose one resource is a base and applies
// its strategic-merge patches, as kustomize does, with the API types'
// own merge keys.
func loadOverlay(dir string, patchFiles map[string][]byte) (*bundle, error) {
	k, err := readKustomization(dir)
	if err != nil {
		return nil, err
	}
	if len(k.Resources) != 1 {
		return nil, fmt.Errorf("%s: want the base as the only resource, got %v", dir, k.Resources)
	}
	b, err := loadBase(filepath.Join(dir, k.Resources[0]), nil)
	if err != nil {
		return nil, err
	}
	for _, p := range k.Patches {
		raw, ok := patchFiles[p.Path]
		if !ok {
			if raw, err = os.ReadFile(filepath.Join(dir, p.Path)); err != nil {
				return nil, err
			}
		}
		docs, err := documents(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Path, err)
		}
		for _, doc := range docs {
			// Decoded strictly first: a misspelt field in a patch would
			// otherwise be merged in and ignored by the API server.
			obj, err := decode(doc)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.Path, err)
			}
			if err := b.patch(obj, doc); err != nil {
				return nil, fmt.Errorf("%s: %w", p.Path, err)
			}
		}
	}
	return b, nil
}

func (b *bundle) patch(obj any, doc []byte) error {
	patchJSON, err := sigsyaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	merge := func(target any, name, want string) error {
		if name != want {
			return fmt.Errorf("patch names %q, the base has %q", name, want)
		}
		orig, err := json.Marshal(target)
		if err != nil {
			return err
		}
		merged, err := strategicpatch.StrategicMergePatch(orig, patchJSON, target)
		if err != nil {
			return err
		}
		return strict(merged, target)
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return merge(b.deploy, o.Name, b.deploy.Name)
	case *autoscalingv2.HorizontalPodAutoscaler:
		return merge(b.hpa, o.Name, b.hpa.Name)
	case *policyv1.PodDisruptionBudget:
		return merge(b.pdb, o.Name, b.pdb.Name)
	}
	return fmt.Errorf("patching %T is not modelled by this test", obj)
}

// problems collects what a check finds wrong.
type problems []string

func (p *problems) add(format string, a ...any) { *p = append(*p, fmt.Sprintf(format, a...)) }

// check runs every check of a bundle. t is for the environment the config
// loader reads (restored when t ends).
func check(t *testing.T, b *bundle) problems {
	var p problems
	if b.deploy == nil || b.hpa == nil || b.pdb == nil || b.monitor == nil {
		p.add("the kustomization needs a Deployment, a PodDisruptionBudget, a HorizontalPodAutoscaler and a ServiceMonitor")
		return p
	}
	pod := &b.deploy.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		p.add("deployment: want one container, got %d", len(pod.Containers))
		return p
	}
	c := &pod.Containers[0]
	checkEnv(&p, c)
	cfg := checkConfig(t, &p, b, c)
	if cfg == nil {
		return p
	}
	ports := checkPorts(&p, c, cfg)
	checkProbes(&p, c, ports)
	checkResources(&p, c)
	checkSecurity(&p, pod, c)
	checkWritable(&p, pod, c, cfg)
	checkShutdown(&p, pod, c, cfg)
	checkImage(&p, b, c)
	checkWorkload(&p, b)
	checkServices(&p, b, c)
	checkMonitor(&p, b, c)
	return p
}

func checkEnv(p *problems, c *corev1.Container) {
	for _, e := range c.Env {
		if !config.IsEnvName(e.Name) {
			p.add("env %s: the kopir binary does not read it (it reads %s)", e.Name, strings.Join(config.EnvNames(), ", "))
		}
		if slices.Contains(secretEnv, e.Name) && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			p.add("env %s carries a credential: take it from a Secret (valueFrom.secretKeyRef), not a literal", e.Name)
		}
	}
	if len(c.EnvFrom) > 0 {
		p.add("envFrom: name each variable, so that each is checked against what the binary reads")
	}
}

// configPath is the -config argument of kopir serve.
func configPath(c *corev1.Container) string {
	args := append(slices.Clone(c.Command), c.Args...)
	for i, a := range args {
		if (a == "-config" || a == "--config") && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "-config="); ok {
			return v
		}
	}
	return ""
}

func volume(pod *corev1.PodSpec, name string) *corev1.Volume {
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == name {
			return &pod.Volumes[i]
		}
	}
	return nil
}

// mountOf is the container's mount that holds path, the deepest one.
func mountOf(c *corev1.Container, path string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if (path == m.MountPath || strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")) &&
			(best == nil || len(m.MountPath) > len(best.MountPath)) {
			best = &c.VolumeMounts[i]
		}
	}
	return best
}

// checkConfig finds the config the container is started with in the
// generated ConfigMap, checks that every file it names is an item of a
// mounted Secret, and loads it with the bus's own loader, the
// container's environment applied.
func checkConfig(t *testing.T, p *problems, b *bundle, c *corev1.Container) *config.Config {
	pod := &b.deploy.Spec.Template.Spec
	path := configPath(c)
	if path == "" || c.Args[0] != "serve" {
		p.add("container args: want serve -config FILE, got %q", c.Args)
		return nil
	}
	m := mountOf(c, path)
	var v *corev1.Volume
	if m != nil {
		v = volume(pod, m.Name)
	}
	if v == nil || v.ConfigMap == nil || m.SubPath != "" {
		p.add("-config %s: not in a mounted ConfigMap", path)
		return nil
	}
	raw, ok := b.configs[v.ConfigMap.Name][strings.TrimPrefix(path, m.MountPath+"/")]
	if !ok {
		p.add("-config %s: ConfigMap %s has no such file in the kustomization's configMapGenerator", path, v.ConfigMap.Name)
		return nil
	}

	// Every secret the config reads from a file is an item of a mounted
	// Secret; staged under a temporary dir in its place for the loader.
	stage := t.TempDir()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(raw), &doc); err != nil {
		p.add("config %s: %v", path, err)
		return nil
	}
	for _, f := range secretFiles(&doc) {
		sm := mountOf(c, f)
		var sv *corev1.Volume
		if sm != nil {
			sv = volume(pod, sm.Name)
		}
		if sv == nil || sv.Secret == nil {
			p.add("config names %s: not in a mounted Secret", f)
			continue
		}
		rel := strings.TrimPrefix(f, sm.MountPath+"/")
		if len(sv.Secret.Items) > 0 && !slices.ContainsFunc(sv.Secret.Items, func(it corev1.KeyToPath) bool { return it.Path == rel }) {
			p.add("config names %s: Secret %s's items have no path %s", f, sv.Secret.SecretName, rel)
			continue
		}
		staged := filepath.Join(stage, f)
		if err := os.MkdirAll(filepath.Dir(staged), 0o700); err != nil {
			t.Fatal(err)
		}
		// 64 hex digits: a token hash, a 32-byte key, or any password.
		if err := os.WriteFile(staged, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range config.EnvNames() {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.Name == "KOPIR_DATABASE_URL":
			t.Setenv(e.Name, "postgres://kopir@kopir-postgres:5432/kopir")
		case e.ValueFrom != nil:
			t.Setenv(e.Name, "from-a-secret")
		default:
			t.Setenv(e.Name, e.Value)
		}
	}
	for _, s := range secretFiles(&doc) {
		raw = strings.ReplaceAll(raw, s, filepath.Join(stage, s))
	}
	cfg, err := config.Parse(path, []byte(raw))
	if err != nil {
		p.add("config: %v", err)
		return nil
	}
	if cfg.Demo {
		p.add("config %s: demo: true is for deploy/local.yaml only", path)
	}
	if !strings.HasPrefix(cfg.Database, "postgres://") || cfg.NATS == "" || cfg.Redis == "" {
		p.add("config %s: a cluster needs PostgreSQL, external NATS and Redis (database %q, nats %q, redis %q)", path, cfg.Database, cfg.NATS, cfg.Redis)
	}
	if cfg.NATSReplicas != 3 {
		p.add("config %s: natsReplicas %d: the external JetStream is a three-server cluster, give the stream 3 replicas", path, cfg.NATSReplicas)
	}
	return cfg
}

// secretFiles are the values of every <key>File in the config: the files
// config.Load reads secrets from.
func secretFiles(n *yaml.Node) []string {
	var out []string
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			out = append(out, secretFiles(c)...)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if strings.HasSuffix(k.Value, config.SecretFileSuffix) && k.Value != config.SecretFileSuffix && v.Kind == yaml.ScalarNode {
				out = append(out, v.Value)
				continue
			}
			out = append(out, secretFiles(v)...)
		}
	}
	return out
}

// checkPorts: the container exposes exactly the config's three
// listeners, named after them, each listening on every interface.
func checkPorts(p *problems, c *corev1.Container, cfg *config.Config) map[string]int32 {
	want := map[string]string{"internal": cfg.Listen.Internal, "agency": cfg.Listen.Agency, "admin": cfg.Listen.Admin}
	ports := map[string]int32{}
	for name, addr := range want {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			p.add("listen.%s: %v", name, err)
			continue
		}
		if host != "" && host != "0.0.0.0" && host != "::" {
			p.add("listen.%s %s: a pod's listener must listen on every interface, or the Service cannot reach it", name, addr)
		}
		n, _ := strconv.Atoi(port)
		ports[name] = int32(n)
	}
	seen := map[string]bool{}
	for _, cp := range c.Ports {
		want, ok := ports[cp.Name]
		switch {
		case !ok:
			p.add("containerPort %s (%d): no listener of that name in the config (internal, agency, admin)", cp.Name, cp.ContainerPort)
		case cp.ContainerPort != want:
			p.add("containerPort %s: %d, but the config's listen.%s is port %d", cp.Name, cp.ContainerPort, cp.Name, want)
		}
		seen[cp.Name] = true
	}
	for name := range ports {
		if !seen[name] {
			p.add("listener %s: no containerPort named %s", name, name)
		}
	}
	return ports
}

// openGET are the admin listener's paths a probe or scraper may call:
// GET and open (no token), from the admin endpoints table.
func openGET() map[string]bool {
	out := map[string]bool{}
	for _, e := range (&admin.Server{}).Endpoints() {
		if path, ok := strings.CutPrefix(e.Pattern, "GET "); ok && e.Role == admin.Open {
			out[path] = true
		}
	}
	return out
}

// portNumber resolves a probe's or Service's target port on the container.
func portNumber(c *corev1.Container, port intstr.IntOrString) int32 {
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == port.StrVal {
			return cp.ContainerPort
		}
	}
	return -1
}

func checkProbes(p *problems, c *corev1.Container, ports map[string]int32) {
	open := openGET()
	for _, pr := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"startupProbe", c.StartupProbe, "/healthz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			p.add("%s: missing, or not an httpGet", pr.name)
			continue
		}
		g := pr.probe.HTTPGet
		if !open[g.Path] {
			p.add("%s: path %s is not an open GET endpoint of the admin listener", pr.name, g.Path)
		}
		if g.Path != pr.path {
			p.add("%s: path %s, want %s", pr.name, g.Path, pr.path)
		}
		if got := portNumber(c, g.Port); got != ports["admin"] {
			p.add("%s: port %s is %d, not the admin listener's %d", pr.name, g.Port.String(), got, ports["admin"])
		}
	}
}

func checkResources(p *problems, c *corev1.Container) {
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim {
			p.add("resources: %s needs both a request and a limit", r)
			continue
		}
		if req.Cmp(lim) > 0 {
			p.add("resources: %s request %s is above its limit %s", r, req.String(), lim.String())
		}
	}
	lim, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		return
	}
	// The bus sets a 1 GiB soft limit unless GOMEMLIMIT is set: under a
	// smaller container limit it would be killed before it collects.
	soft := int64(1 << 30)
	for _, e := range c.Env {
		if e.Name == config.EnvGOMEMLIMIT {
			n, err := goMemLimit(e.Value)
			if err != nil {
				p.add("env GOMEMLIMIT: %v", err)
				return
			}
			soft = n
		}
	}
	if soft >= lim.Value() {
		p.add("GOMEMLIMIT (%d bytes) must be below the memory limit %s, with room for libxml2's C heap", soft, lim.String())
	}
}

// goMemLimit reads GOMEMLIMIT as the Go runtime does: a number of bytes
// with an optional B, KiB, MiB, GiB or TiB suffix.
func goMemLimit(v string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		s string
		m int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(v, u.s); ok {
			v, mult = rest, u.m
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a byte count", v)
	}
	return n * mult, nil
}

func checkSecurity(p *problems, pod *corev1.PodSpec, c *corev1.Container) {
	ps, cs := pod.SecurityContext, c.SecurityContext
	if ps == nil {
		ps = &corev1.PodSecurityContext{}
	}
	if cs == nil {
		p.add("container securityContext: missing")
		return
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	if !isTrue(cs.RunAsNonRoot) && !isTrue(ps.RunAsNonRoot) {
		p.add("securityContext: runAsNonRoot must be true")
	}
	for _, uid := range []*int64{ps.RunAsUser, cs.RunAsUser} {
		if uid != nil && *uid == 0 {
			p.add("securityContext: runAsUser 0")
		}
	}
	if !isTrue(cs.ReadOnlyRootFilesystem) {
		p.add("securityContext: readOnlyRootFilesystem must be true")
	}
	if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
		p.add("securityContext: allowPrivilegeEscalation must be false")
	}
	if isTrue(cs.Privileged) {
		p.add("securityContext: privileged")
	}
	if cs.Capabilities == nil || !slices.Contains(cs.Capabilities.Drop, "ALL") || len(cs.Capabilities.Add) > 0 {
		p.add("securityContext: capabilities must drop ALL and add none")
	}
	seccomp := cs.SeccompProfile
	if seccomp == nil {
		seccomp = ps.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		p.add("securityContext: seccompProfile must be RuntimeDefault")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		p.add("automountServiceAccountToken must be false: the bus never calls the Kubernetes API")
	}
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		p.add("enableServiceLinks must be false: service links add KOPIR_* variables the bus does not read")
	}
}

// checkWritable: on a read-only root, every directory the bus writes is
// an emptyDir: the data dir it creates at start and /tmp, where the SHEP
// schemas are unpacked for libxml2.
func checkWritable(p *problems, pod *corev1.PodSpec, c *corev1.Container, cfg *config.Config) {
	for _, dir := range []string{cfg.DataDir, os.TempDir()} {
		m := mountOf(c, dir)
		if m == nil || m.ReadOnly {
			p.add("%s is written by the bus: mount a writable emptyDir there", dir)
			continue
		}
		if v := volume(pod, m.Name); v == nil || v.EmptyDir == nil {
			p.add("%s: volume %s is not an emptyDir", dir, m.Name)
		}
	}
}

func checkShutdown(p *problems, pod *corev1.PodSpec, c *corev1.Container, cfg *config.Config) {
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if s := c.Lifecycle.PreStop.Sleep; s != nil {
			preStop = time.Duration(s.Seconds) * time.Second
		}
		if c.Lifecycle.PreStop.Exec != nil {
			p.add("preStop exec: the image has no shell; use the sleep action")
		}
	}
	grace := cfg.ShutdownGrace.D()
	need := preStop + grace + windDown
	if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second < need {
		p.add("terminationGracePeriodSeconds must cover preStop %s + the bus's shutdownGrace %s + %s to wind down (%s)",
			preStop, grace, windDown, need)
	}
}

func checkImage(p *problems, b *bundle, c *corev1.Container) {
	if _, ok := b.images[c.Image]; !ok {
		p.add("image %q: not set by the kustomization's images", c.Image)
	}
}

func selects(sel map[string]string, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func checkWorkload(p *problems, b *bundle) {
	d := b.deploy
	podLabels := d.Spec.Template.Labels
	if d.Spec.Selector == nil || !selects(d.Spec.Selector.MatchLabels, podLabels) {
		p.add("deployment: selector does not match the pod template's labels")
	}
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	if replicas < 2 {
		p.add("deployment: %d replica(s); one node is not a bus that survives a restart", replicas)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		p.add("deployment: rollingUpdate.maxUnavailable must be 0, so that a rollout never lowers capacity")
	}
	if b.pdb.Spec.Selector == nil || !selects(b.pdb.Spec.Selector.MatchLabels, podLabels) {
		p.add("pdb: selector does not match the bus's pods")
	}
	switch {
	case b.pdb.Spec.MaxUnavailable != nil:
		if n := b.pdb.Spec.MaxUnavailable.IntValue(); n < 1 || n >= int(replicas) {
			p.add("pdb: maxUnavailable %d must be at least 1 and below the %d replicas", n, replicas)
		}
	case b.pdb.Spec.MinAvailable != nil:
		if n := b.pdb.Spec.MinAvailable.IntValue(); n < 1 || n >= int(replicas) {
			p.add("pdb: minAvailable %d must be at least 1 and below the %d replicas, or no node can ever be drained", n, replicas)
		}
	default:
		p.add("pdb: neither maxUnavailable nor minAvailable")
	}
	h := b.hpa.Spec
	if h.ScaleTargetRef.Kind != "Deployment" || h.ScaleTargetRef.Name != d.Name || h.ScaleTargetRef.APIVersion != "apps/v1" {
		p.add("hpa: scaleTargetRef %s/%s is not the Deployment %s", h.ScaleTargetRef.Kind, h.ScaleTargetRef.Name, d.Name)
	}
	if h.MinReplicas == nil || *h.MinReplicas < replicas || *h.MinReplicas > h.MaxReplicas {
		p.add("hpa: minReplicas must be at least the Deployment's %d replicas and at most maxReplicas %d", replicas, h.MaxReplicas)
	}
	if len(h.Metrics) == 0 {
		p.add("hpa: no metrics")
	}
}

// busServices are the Services that select the bus's pods.
func busServices(b *bundle) []*corev1.Service {
	var out []*corev1.Service
	for _, s := range b.services {
		if s.Spec.Type != corev1.ServiceTypeExternalName && selects(s.Spec.Selector, b.deploy.Spec.Template.Labels) {
			out = append(out, s)
		}
	}
	return out
}

func checkServices(p *problems, b *bundle, c *corev1.Container) {
	exposed := map[string]string{}
	for _, s := range b.services {
		if s.Spec.Type == corev1.ServiceTypeExternalName {
			if s.Spec.ExternalName == "" || len(s.Spec.Selector) > 0 {
				p.add("service %s: an ExternalName needs externalName and no selector", s.Name)
			}
			continue
		}
		if !selects(s.Spec.Selector, b.deploy.Spec.Template.Labels) {
			p.add("service %s: selects no bus pod", s.Name)
			continue
		}
		for _, sp := range s.Spec.Ports {
			n := portNumber(c, sp.TargetPort)
			var name string
			for _, cp := range c.Ports {
				if cp.ContainerPort == n {
					name = cp.Name
				}
			}
			if name == "" {
				p.add("service %s: targetPort %s is no container port", s.Name, sp.TargetPort.String())
				continue
			}
			if other, dup := exposed[name]; dup {
				p.add("service %s: listener %s is already exposed by %s", s.Name, name, other)
			}
			exposed[name] = s.Name
		}
	}
	for _, cp := range c.Ports {
		if exposed[cp.Name] == "" {
			p.add("listener %s: no Service exposes it", cp.Name)
		}
	}
	// The URLs the manifests name in the clear point at a Service here.
	for _, e := range c.Env {
		if e.Name != "KOPIR_NATS_URL" || e.Value == "" {
			continue
		}
		for _, u := range strings.Split(e.Value, ",") {
			host, port, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimSpace(u), "nats://"))
			if !slices.ContainsFunc(b.services, func(s *corev1.Service) bool {
				return s.Name == host && slices.ContainsFunc(s.Spec.Ports, func(sp corev1.ServicePort) bool { return strconv.Itoa(int(sp.Port)) == port })
			}) {
				p.add("env KOPIR_NATS_URL: %s is no Service of this kustomization with port %s", host, port)
			}
		}
	}
}

func checkMonitor(p *problems, b *bundle, c *corev1.Container) {
	m := b.monitor
	var targets []*corev1.Service
	for _, s := range busServices(b) {
		if selects(m.Spec.Selector.MatchLabels, s.Labels) {
			targets = append(targets, s)
		}
	}
	if len(targets) == 0 {
		p.add("servicemonitor: its selector %v matches no Service of the bus", m.Spec.Selector.MatchLabels)
		return
	}
	if len(m.Spec.Endpoints) == 0 {
		p.add("servicemonitor: no endpoints")
	}
	open := openGET()
	for _, ep := range m.Spec.Endpoints {
		if ep.Path != "/metrics" || !open[ep.Path] {
			p.add("servicemonitor: path %q, want the admin listener's open /metrics", ep.Path)
		}
		for _, s := range targets {
			var sp *corev1.ServicePort
			for i := range s.Spec.Ports {
				if s.Spec.Ports[i].Name == ep.Port {
					sp = &s.Spec.Ports[i]
				}
			}
			if sp == nil {
				p.add("servicemonitor: service %s has no port named %q", s.Name, ep.Port)
				continue
			}
			if n := portNumber(c, sp.TargetPort); n != portNumber(c, intstr.FromString("admin")) {
				p.add("servicemonitor: port %s of %s reaches container port %d, not the admin listener", sp.Name, s.Name, n)
			}
		}
	}
}

func TestBaseManifests(t *testing.T) {
	b, err := loadBase(baseDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range check(t, b) {
		t.Error(pr)
	}
}

func TestThreeNodesOverlay(t *testing.T) {
	b, err := loadOverlay(overlayDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range check(t, b) {
		t.Error(pr)
	}
	if r := b.deploy.Spec.Replicas; r == nil || *r != 3 {
		t.Errorf("three-nodes: replicas %v, want 3", r)
	}
	if m := b.hpa.Spec.MinReplicas; m == nil || *m != 3 {
		t.Errorf("three-nodes: hpa minReplicas %v, want 3 (the autoscaler owns the count once applied)", m)
	}
	spread := b.deploy.Spec.Template.Spec.TopologySpreadConstraints
	if !slices.ContainsFunc(spread, func(c corev1.TopologySpreadConstraint) bool {
		return c.TopologyKey == "kubernetes.io/hostname" && c.WhenUnsatisfiable == corev1.DoNotSchedule && c.MaxSkew == 1
	}) {
		t.Errorf("three-nodes: no one-pod-per-node spread constraint: %+v", spread)
	}
	// What the patch leaves alone is the base's.
	if b.deploy.Spec.Template.Spec.Containers[0].ReadinessProbe == nil {
		t.Error("three-nodes: the merge lost the base's container fields")
	}
}

// TestChecksCatchMutations: each check fails on a manifest that breaks
// it, so that none of them passes by accident.
func TestChecksCatchMutations(t *testing.T) {
	container := func(b *bundle) *corev1.Container { return &b.deploy.Spec.Template.Spec.Containers[0] }
	setEnv := func(name, value string) func(*bundle) {
		return func(b *bundle) {
			c := container(b)
			for i := range c.Env {
				if c.Env[i].Name == name {
					c.Env[i] = corev1.EnvVar{Name: name, Value: value}
					return
				}
			}
			c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
		}
	}
	editConfig := func(old, new string) func(*bundle) {
		return func(b *bundle) {
			for _, files := range b.configs {
				for k, v := range files {
					if !strings.Contains(v, old) {
						t.Fatalf("config has no %q to mutate", old)
					}
					files[k] = strings.Replace(v, old, new, 1)
				}
			}
		}
	}
	f := false
	tr := true
	for _, m := range []struct {
		name   string
		mutate func(*bundle)
		want   string
	}{
		{"liveness path unknown", func(b *bundle) { container(b).LivenessProbe.HTTPGet.Path = "/health" }, "livenessProbe: path /health"},
		{"readiness on /healthz", func(b *bundle) { container(b).ReadinessProbe.HTTPGet.Path = "/healthz" }, "readinessProbe: path /healthz, want /readyz"},
		{"readiness on the internal port", func(b *bundle) { container(b).ReadinessProbe.HTTPGet.Port = intstr.FromInt32(8080) }, "readinessProbe: port 8080"},
		{"startup probe removed", func(b *bundle) { container(b).StartupProbe = nil }, "startupProbe: missing"},
		{"no memory limit", func(b *bundle) { delete(container(b).Resources.Limits, corev1.ResourceMemory) }, "memory needs both"},
		{"cpu request over limit", func(b *bundle) { container(b).Resources.Requests[corev1.ResourceCPU] = resource.MustParse("3") }, "cpu request 3 is above"},
		{"GOMEMLIMIT over the limit", setEnv("GOMEMLIMIT", "1GiB"), "GOMEMLIMIT (1073741824 bytes) must be below"},
		{"writable root", func(b *bundle) { container(b).SecurityContext.ReadOnlyRootFilesystem = &f }, "readOnlyRootFilesystem"},
		{"root allowed", func(b *bundle) {
			container(b).SecurityContext.RunAsNonRoot = nil
			b.deploy.Spec.Template.Spec.SecurityContext.RunAsNonRoot = &f
		}, "runAsNonRoot"},
		{"privilege escalation", func(b *bundle) { container(b).SecurityContext.AllowPrivilegeEscalation = &tr }, "allowPrivilegeEscalation"},
		{"capabilities kept", func(b *bundle) { container(b).SecurityContext.Capabilities.Drop = nil }, "drop ALL"},
		{"seccomp unconfined", func(b *bundle) {
			container(b).SecurityContext.SeccompProfile = nil
			b.deploy.Spec.Template.Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, "seccompProfile"},
		{"service account token", func(b *bundle) { b.deploy.Spec.Template.Spec.AutomountServiceAccountToken = nil }, "automountServiceAccountToken"},
		{"env var the bus does not read", setEnv("KOPIR_DATABASE_DSN", "postgres://x"), "env KOPIR_DATABASE_DSN: the kopir binary does not read it"},
		{"credential as a literal", setEnv("KOPIR_PERSONAL_DATA_KEY", "secret"), "env KOPIR_PERSONAL_DATA_KEY carries a credential"},
		{"listener override moves a port", setEnv("KOPIR_LISTEN_ADMIN", "0.0.0.0:9090"), "containerPort admin: 8082, but the config's listen.admin is port 9090"},
		{"container port renamed", func(b *bundle) { container(b).Ports[1].Name = "inbound" }, "containerPort inbound (8081): no listener"},
		{"listener on loopback", editConfig("admin: 0.0.0.0:8082", "admin: 127.0.0.1:8082"), "listen.admin 127.0.0.1:8082: a pod's listener must listen on every interface"},
		{"unknown config key", editConfig("natsStream: KOPIR", "natsStreem: KOPIR"), "field natsStreem not found"},
		{"demo config", editConfig("natsStream: KOPIR", "natsStream: KOPIR\ndemo: true"), "demo: true is for deploy/local.yaml only"},
		{"secret file not mounted", editConfig("/etc/kopir/secrets/callers/hr.sha256", "/etc/kopir/secrets/callers/hr2.sha256"), "Secret kopir-secrets's items have no path callers/hr2.sha256"},
		{"secret file outside the Secret", editConfig("/etc/kopir/secrets/callers/hr.sha256", "/run/hr.sha256"), "config names /run/hr.sha256: not in a mounted Secret"},
		{"config file not generated", func(b *bundle) { container(b).Args[2] = "/etc/kopir/config/prod.yaml" }, "ConfigMap kopir-config has no such file"},
		{"no data dir volume", func(b *bundle) {
			c := container(b)
			c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/var/lib/kopir" })
		}, "/var/lib/kopir is written by the bus"},
		{"grace period too short", func(b *bundle) { s := int64(12); b.deploy.Spec.Template.Spec.TerminationGracePeriodSeconds = &s }, "terminationGracePeriodSeconds must cover"},
		{"rollout lowers capacity", func(b *bundle) {
			u := intstr.FromInt32(1)
			b.deploy.Spec.Strategy.RollingUpdate.MaxUnavailable = &u
		}, "maxUnavailable must be 0"},
		{"pdb selects nothing", func(b *bundle) { b.pdb.Spec.Selector.MatchLabels = map[string]string{"app": "other"} }, "pdb: selector"},
		{"pdb blocks every drain", func(b *bundle) {
			v := intstr.FromInt32(2)
			b.pdb.Spec.MaxUnavailable, b.pdb.Spec.MinAvailable = nil, &v
		}, "pdb: minAvailable 2"},
		{"hpa scales something else", func(b *bundle) { b.hpa.Spec.ScaleTargetRef.Name = "kopir-old" }, "hpa: scaleTargetRef"},
		{"admin listener not exposed", func(b *bundle) {
			b.services = slices.DeleteFunc(b.services, func(s *corev1.Service) bool { return s.Name == "kopir-admin" })
		}, "listener admin: no Service exposes it"},
		{"service to a port the pod lacks", func(b *bundle) { b.services[0].Spec.Ports[0].TargetPort = intstr.FromString("http") }, "targetPort http is no container port"},
		{"nats url to an unknown service", setEnv("KOPIR_NATS_URL", "nats://nats:4222"), "env KOPIR_NATS_URL: nats is no Service"},
		{"servicemonitor on a missing port", func(b *bundle) { b.monitor.Spec.Endpoints[0].Port = "metrics" }, `has no port named "metrics"`},
		{"servicemonitor path", func(b *bundle) { b.monitor.Spec.Endpoints[0].Path = "/stats" }, `path "/stats"`},
		{"servicemonitor selects nothing", func(b *bundle) { b.monitor.Spec.Selector.MatchLabels["app.kubernetes.io/component"] = "metrics" }, "matches no Service"},
		{"image not pinned by the kustomization", func(b *bundle) { container(b).Image = "kopir-dev" }, `image "kopir-dev"`},
	} {
		t.Run(m.name, func(t *testing.T) {
			b, err := loadBase(baseDir, nil)
			if err != nil {
				t.Fatal(err)
			}
			m.mutate(b)
			got := check(t, b)
			if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, m.want) }) {
				t.Errorf("not caught: want a problem containing %q, got %q", m.want, got)
			}
		})
	}
}

// TestStrictParsingCatchesUnknownFields: a misspelt field in a manifest or
// in an overlay's patch is an error, not a setting silently dropped.
func TestStrictParsingCatchesUnknownFields(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(baseDir, "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(raw, []byte("readOnlyRootFilesystem: true"), []byte("readOnlyRootFileSystem: true"), 1)
	if bytes.Equal(bad, raw) {
		t.Fatal("deployment.yaml has no readOnlyRootFilesystem to misspell")
	}
	if _, err := loadBase(baseDir, map[string][]byte{"deployment.yaml": bad}); err == nil || !strings.Contains(err.Error(), "readOnlyRootFileSystem") {
		t.Errorf("misspelt field: %v", err)
	}
	patch, err := os.ReadFile(filepath.Join(overlayDir, "three-nodes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad = bytes.Replace(patch, []byte("minReplicas: 3"), []byte("minReplica: 3"), 1)
	if _, err := loadOverlay(overlayDir, map[string][]byte{"three-nodes.yaml": bad}); err == nil || !strings.Contains(err.Error(), "minReplica") {
		t.Errorf("misspelt field in a patch: %v", err)
	}
	// And the overlay's checks see the patch: one replica is refused.
	bad = bytes.Replace(patch, []byte("replicas: 3"), []byte("replicas: 1"), 1)
	b, err := loadOverlay(overlayDir, map[string][]byte{"three-nodes.yaml": bad})
	if err != nil {
		t.Fatal(err)
	}
	if got := check(t, b); !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "1 replica(s)") }) {
		t.Errorf("a patched replica count of 1 is not caught: %q", got)
	}
}
