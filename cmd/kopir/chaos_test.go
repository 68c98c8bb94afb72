package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/testenv"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The chaos test of the cluster (issue 13): three bus nodes over one
// PostgreSQL database, a three-server NATS JetStream cluster and Redis.
// A client spreads async messages over the nodes to a subscriber that
// fails 30% of calls, while a bus node is killed with SIGKILL every few
// seconds and restarted, and one NATS server is killed once and
// restarted. Then every node is restarted in turn, gracefully, under a
// sync load. make chaos runs it with 10,000 messages; make test with
// KOPIR_CHAOS_MESSAGES unset runs 600.

const natsServerBin = "/usr/sbin/nats-server"

// chaosNode is one bus process and its listeners.
type chaosNode struct {
	name                    string
	internal, agency, admin string
	config                  string
	log                     *os.File
	mu                      sync.Mutex
	cmd                     *exec.Cmd
	exited                  chan struct{}
}

// natsNode is one nats-server of the test's cluster.
type natsNode struct {
	args   []string
	client string
	log    *os.File
	cmd    *exec.Cmd
}

type chaos struct {
	t     *testing.T
	dir   string
	run   string
	mocks string
	nodes []*chaosNode
	nats  []*natsNode
	http  *http.Client
}

func chaosMessages(t *testing.T) int {
	if v := os.Getenv("KOPIR_CHAOS_MESSAGES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("KOPIR_CHAOS_MESSAGES=%q is not a count", v)
		}
		return n
	}
	return 600
}

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end chaos")
	}
	requireServer(t, "PostgreSQL", "127.0.0.1:5432")
	requireServer(t, "Redis", "127.0.0.1:6379")
	if _, err := os.Stat(natsServerBin); err != nil {
		testenv.Unavailable(t, "nats-server: %v", err)
	}
	total := chaosMessages(t)
	c := &chaos{t: t, dir: t.TempDir(), run: uniqueSuffix(), http: &http.Client{Timeout: 30 * time.Second}}
	db := "chaos_" + c.run
	admin := pgAdmin(t)
	if _, err := admin.Exec("CREATE DATABASE " + db); err != nil {
		testenv.Unavailable(t, "PostgreSQL: create database %s: %v", db, err)
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE " + db + " WITH (FORCE)") })

	c.startNATS()
	c.startMocks()
	c.mock("PUT", "/_control/faults/subscriber", `{"failRate":0.3,"status":503}`)
	for i := range 3 {
		c.addNode(i, fmt.Sprintf("postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", db))
	}
	for _, n := range c.nodes {
		c.start(n)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			c.kill(n)
		}
		if t.Failed() {
			for _, n := range c.nodes {
				raw, _ := os.ReadFile(n.log.Name())
				t.Logf("%s log (tail):\n%s", n.name, tail(string(raw), 3000))
			}
		}
	})

	c.consoleSessionsShared()

	// The async load under chaos.
	var (
		accepted  sync.Map // idempotency key → message id
		nAccepted atomic.Int64
		refused   atomic.Int64 // answers other than 202, sent again
		statusMu  sync.Mutex
		statuses  = map[int]int{}
		unreached atomic.Int64 // no answer (node down), sent again
	)
	send := func(i int) {
		key := fmt.Sprintf("chaos-%s-%06d", c.run, i)
		body := fmt.Sprintf(`{"seq":%d}`, i)
		deadline := time.Now().Add(3 * time.Minute)
		for try := 0; ; try++ {
			n := c.nodes[(i+try)%len(c.nodes)]
			status, out, err := c.call(n, "subscriber.deliver", key, body)
			if err == nil && status == http.StatusAccepted {
				id, _ := out["id"].(string)
				if prev, loaded := accepted.LoadOrStore(key, id); loaded && prev != id {
					t.Errorf("key %s accepted as two messages, %s and %s", key, prev, id)
				} else if !loaded {
					nAccepted.Add(1)
				}
				return
			}
			if err != nil {
				unreached.Add(1)
			} else {
				refused.Add(1)
				statusMu.Lock()
				statuses[status]++
				statusMu.Unlock()
			}
			if time.Now().After(deadline) {
				t.Errorf("message %s never accepted: last %d %v %v", key, status, out, err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Sending is paced so that the kills happen while it runs.
	sendFor := max(20*time.Second, time.Duration(total)*10*time.Millisecond)
	start := time.Now()
	next := make(chan int)
	var senders sync.WaitGroup
	for range 8 {
		senders.Go(func() {
			for i := range next {
				send(i)
			}
		})
	}
	stopChaos := make(chan struct{})
	var failover time.Duration
	var kills, natsKills int
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		failover, kills, natsKills = c.chaos(stopChaos, sendFor)
	}()
	for i := range total {
		if wait := time.Until(start.Add(sendFor * time.Duration(i) / time.Duration(total))); wait > 0 {
			time.Sleep(wait)
		}
		next <- i
	}
	close(next)
	senders.Wait()
	close(stopChaos)
	<-chaosDone
	sent := time.Since(start)
	for _, n := range c.nodes {
		if !c.running(n) {
			c.start(n)
		}
	}

	// Drain: every accepted message reaches a final status.
	var counts map[string]int
	drainBy := time.Now().Add(3*time.Minute + time.Duration(total)*20*time.Millisecond)
	for {
		counts = c.stats(c.nodes[0])
		if counts["QUEUED"] == 0 && counts["RECEIVED"] == 0 && counts["DELIVERED"]+counts["DEAD"] >= int(nAccepted.Load()) {
			break
		}
		if time.Now().After(drainBy) {
			t.Fatalf("the queue did not drain: %v, %d accepted", counts, nAccepted.Load())
		}
		time.Sleep(500 * time.Millisecond)
	}
	drained := time.Since(start)
	acc := int(nAccepted.Load())
	if acc != total {
		t.Errorf("accepted %d of %d", acc, total)
	}
	if counts["DELIVERED"]+counts["DEAD"] != acc {
		t.Errorf("the store does not reconcile: accepted %d, delivered %d + dead %d", acc, counts["DELIVERED"], counts["DEAD"])
	}
	// Every accepted message is stored once; the other rows of the route
	// are the refusals of repeats whose key was still claimed (409, in
	// progress), each recorded as REJECTED under its own id.
	stored, rejected := c.countStored(db)
	if stored != acc {
		t.Errorf("PostgreSQL holds %d messages of the route besides the rejected, %d were accepted", stored, acc)
	}
	if rejected < statuses[http.StatusConflict] {
		t.Errorf("PostgreSQL holds %d rejected calls of the route, %d were answered 409", rejected, statuses[http.StatusConflict])
	}

	var received struct {
		Total, Unique int
		Items         []struct {
			Key   string
			Count int
		}
	}
	if err := json.Unmarshal(c.mock("GET", "/_control/received/subscriber", ""), &received); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, it := range received.Items {
		got[it.Key] = it.Count
	}
	missing := 0
	accepted.Range(func(k, _ any) bool {
		if got[k.(string)] == 0 {
			missing++
		}
		return true
	})
	dead := counts["DEAD"]
	lost := max(0, missing-dead)
	duplicates := received.Total - received.Unique
	if lost > 0 {
		t.Errorf("%d accepted messages never reached the subscriber and are not DEAD", lost)
	}
	// At-least-once delivery repeats what was delivered but not yet
	// acknowledged when a node died, and a restarted node's recovery
	// publishes again what it finds QUEUED; a tenth of the messages
	// repeated would mean something else repeats them.
	if duplicates > acc/10 {
		t.Errorf("%d duplicate deliveries for %d messages: more than a tenth", duplicates, acc)
	}
	if failover <= 0 || failover > 10*time.Second {
		t.Errorf("lease failover took %s, want within 10s", failover)
	}
	c.verifyAudit(c.nodes[1], "after the chaos")

	// A rolling restart under a sync load: no request fails.
	rolled, syncReqs, syncFailed, syncRetried := c.rollingRestart()
	if syncFailed > 0 {
		t.Errorf("%d of %d sync requests failed during the rolling restart", syncFailed, syncReqs)
	}
	c.verifyAudit(c.nodes[2], "after the rolling restart")

	report := fmt.Sprintf(`chaos: %d messages sent over %s to 3 nodes (NATS cluster of 3, replicas 3), subscriber failing 30%%
  bus nodes killed (SIGKILL): %d, NATS servers killed: %d
  accepted %d  delivered %d  dead %d  lost %d  duplicates %d (of %d successful deliveries)
  stored: %d accepted, %d rejected repeats (key still claimed by a killed node's call)
  answers other than 202 sent again: %d %v; sends that reached no node: %d
  drained %s after the first send
  lease failover (delivery.replay holder killed): %s
  rolling restart of 3 nodes in %s under sync load: %d requests, %d failed, %d sent again to another node
  audit chain verified`,
		total, sent.Round(time.Second), kills, natsKills, acc, counts["DELIVERED"], dead, lost, duplicates, received.Total, stored, rejected,
		refused.Load(), statuses, unreached.Load(), drained.Round(time.Second), failover.Round(10*time.Millisecond),
		rolled.Round(10*time.Millisecond), syncReqs, syncFailed, syncRetried)
	t.Log("\n" + report)
	if out := os.Getenv("KOPIR_CHAOS_REPORT"); out != "" {
		os.WriteFile(out, []byte(report+"\n"), 0o644)
	}
}

// chaos kills and restarts until stop: first the holder of the replay
// lease, measuring how long until another node holds it; then a bus node
// every few seconds, in turn; and one NATS server once, half way.
func (c *chaos) chaos(stop <-chan struct{}, sendFor time.Duration) (failover time.Duration, kills, natsKills int) {
	t := c.t
	wait := func(d time.Duration) bool {
		select {
		case <-stop:
			return false
		case <-time.After(d):
			return true
		}
	}
	if !wait(2 * time.Second) {
		return
	}
	var holder *chaosNode
	for deadline := time.Now().Add(15 * time.Second); holder == nil && time.Now().Before(deadline); {
		holder = c.leaseHolder("delivery.replay", nil)
		time.Sleep(100 * time.Millisecond)
	}
	if holder == nil {
		t.Errorf("no node holds the delivery.replay lease")
		return
	}
	killed := time.Now()
	c.kill(holder)
	kills++
	for time.Since(killed) < 20*time.Second {
		if n := c.leaseHolder("delivery.replay", holder); n != nil {
			failover = time.Since(killed)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.start(holder)
	natsAt := time.Now().Add(sendFor / 2)
	for i := 0; ; i++ {
		if !wait(3 * time.Second) {
			return
		}
		if natsKills == 0 && time.Now().After(natsAt) {
			s := c.nats[rand.IntN(len(c.nats))]
			s.cmd.Process.Signal(syscall.SIGKILL)
			s.cmd.Wait()
			natsKills++
			go func() {
				time.Sleep(3 * time.Second)
				c.startNATSServer(s)
			}()
		}
		n := c.nodes[i%len(c.nodes)]
		c.kill(n)
		kills++
		time.Sleep(time.Second)
		c.start(n)
	}
}

// leaseHolder is the node whose /metrics says it holds lease, other than
// not; nil: none does.
func (c *chaos) leaseHolder(lease string, not *chaosNode) *chaosNode {
	want := fmt.Sprintf(`kopir_lease_held{lease=%q} 1`, lease)
	for _, n := range c.nodes {
		if n == not || !c.running(n) {
			continue
		}
		resp, err := c.http.Get("http://" + n.admin + "/metrics")
		if err != nil {
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(raw, []byte(want)) {
			return n
		}
	}
	return nil
}

// rollingRestart stops each node with SIGTERM, starts it again and waits
// for it to be ready, one after the other, while sixteen clients call a sync
// route spread over the nodes. A call whose connection a stopping node
// refused or closed before answering is sent to the next node, as a load
// balancer does; any answer but 200 is a failure.
func (c *chaos) rollingRestart() (took time.Duration, requests, failed, retried int64) {
	t := c.t
	var reqs, fails, again atomic.Int64
	stop := make(chan struct{})
	var load sync.WaitGroup
	for w := range 16 {
		load.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("roll-%s-%d-%d", c.run, w, i)
				reqs.Add(1)
				for try := 0; ; try++ {
					n := c.nodes[(w+i+try)%len(c.nodes)]
					status, out, err := c.call(n, "gbdfl.person", key, `{"iin":"880501300124"}`)
					if err != nil && try < 30 {
						again.Add(1)
						time.Sleep(20 * time.Millisecond)
						continue
					}
					if err != nil || status != http.StatusOK {
						fails.Add(1)
						t.Logf("sync call %s on %s: %d %v %v", key, n.name, status, out, err)
					}
					break
				}
			}
		})
	}
	// The agency answers slowly, so that every stop finds calls in flight.
	c.mock("PUT", "/_control/faults/gbdfl", `{"latencyMs":300}`)
	time.Sleep(2 * time.Second)
	start := time.Now()
	for _, n := range c.nodes {
		n.mu.Lock()
		cmd, exited := n.cmd, n.exited
		n.mu.Unlock()
		from, _ := n.log.Seek(0, io.SeekCurrent)
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not exit within 30s of SIGTERM", n.name)
			c.kill(n)
		}
		if log, _ := os.ReadFile(n.log.Name()); !bytes.Contains(log[from:], []byte("draining")) {
			t.Errorf("%s did not say it drained on SIGTERM", n.name)
		}
		c.start(n)
	}
	took = time.Since(start)
	time.Sleep(2 * time.Second)
	close(stop)
	load.Wait()
	return took, reqs.Load(), fails.Load(), again.Load()
}

func (c *chaos) verifyAudit(n *chaosNode, when string) {
	var v struct {
		OK      bool
		Records int
	}
	if code := c.admin(n, "/admin/v1/audit/verify", &v); code != 200 || !v.OK || v.Records == 0 {
		c.t.Errorf("audit verify %s: %d %+v", when, code, v)
	}
}

func (c *chaos) addNode(i int, dsn string) {
	n := &chaosNode{name: fmt.Sprintf("node-%d", i+1), internal: freePort(c.t), agency: freePort(c.t), admin: freePort(c.t)}
	dir := filepath.Join(c.dir, n.name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		c.t.Fatal(err)
	}
	var urls []string
	for _, s := range c.nats {
		urls = append(urls, s.client)
	}
	cfg := fmt.Sprintf(`demo: true
listen: {internal: %q, agency: %q, admin: %q}
dataDir: %q
database: %q
nats: %q
natsStream: CHAOS_%s
natsReplicas: 3
redis: redis://127.0.0.1:6379/0
shutdownGrace: 10s
callers: [{name: demo, token: demo-token}]
admins: [{name: operator, token: admin-token, role: admin}]
routes:
  - name: gbdfl.person
    adapter: gbdfl
    operation: person
    endpoints: [http://%s/shep/sync]
    retry: {attempts: 3, backoff: 10ms, cap: 100ms}
    callers: [demo]
    personalData: {mask: [iin, lastName, firstName, middleName, birthDate]}
    options: {senderId: kopir, password: kopir-secret}
  - name: subscriber.deliver
    adapter: http
    operation: deliver
    mode: async
    endpoints: [http://%s/subscriber/chaos]
    timeout: 2s
    retry: {attempts: 30, backoff: 20ms, cap: 300ms}
    breaker: {failures: 1000000, openFor: 1s}
    callers: [demo]
`, n.internal, n.agency, n.admin, filepath.Join(dir, "data"), dsn, strings.Join(urls, ","), c.run, c.mocks, c.mocks)
	n.config = filepath.Join(dir, "kopir.yaml")
	if err := os.WriteFile(n.config, []byte(cfg), 0o600); err != nil {
		c.t.Fatal(err)
	}
	var err error
	if n.log, err = os.Create(filepath.Join(dir, "kopir.log")); err != nil {
		c.t.Fatal(err)
	}
	c.nodes = append(c.nodes, n)
}

// start starts n and waits until it is ready.
func (c *chaos) start(n *chaosNode) {
	cmd := exec.Command(kopirBin, "serve", "-config", n.config, "-log-level", "info")
	cmd.Stderr = n.log
	// The bus's environment must not override the test's config.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	from, _ := n.log.Seek(0, io.SeekCurrent)
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			var why []string
			raw, _ := os.ReadFile(n.log.Name())
			for _, l := range strings.Split(string(raw[min(from, int64(len(raw))):]), "\n") {
				// The error serve returned is the plain last line.
				fatal := strings.HasPrefix(l, "kopir:")
				if fatal || strings.Contains(l, `"level":"ERROR"`) && !strings.Contains(l, "Handler returned error") {
					why = append(why, l)
				}
			}
			c.t.Errorf("%s exited while starting: %s", n.name, tail(strings.Join(why, "\n"), 2000))
			return
		default:
		}
		if resp, err := c.http.Get("http://" + n.admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Errorf("%s not ready within 60s", n.name)
}

func (c *chaos) kill(n *chaosNode) {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

func (c *chaos) running(n *chaosNode) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// startNATS starts three clustered JetStream servers, each with its own
// data dir on loopback ports, and waits until they place a stream with
// three replicas.
func (c *chaos) startNATS() {
	ports := make([]string, 6)
	for i := range ports {
		ports[i] = freePort(c.t)
	}
	for i := range 3 {
		var routes []string
		for j := range 3 {
			if j != i {
				routes = append(routes, "nats://"+ports[3+j])
			}
		}
		host, port, _ := strings.Cut(ports[i], ":")
		s := &natsNode{client: "nats://" + ports[i], args: []string{
			"-n", fmt.Sprintf("chaos-%d", i+1), "-a", host, "-p", port, "-js", "-sd", filepath.Join(c.dir, fmt.Sprintf("nats-%d", i+1)),
			"--cluster_name", "chaos", "--cluster", "nats://" + ports[3+i], "--routes", strings.Join(routes, ","),
		}}
		var err error
		if s.log, err = os.Create(filepath.Join(c.dir, fmt.Sprintf("nats-%d.log", i+1))); err != nil {
			c.t.Fatal(err)
		}
		c.nats = append(c.nats, s)
		c.startNATSServer(s)
	}
	c.t.Cleanup(func() {
		for _, s := range c.nats {
			if s.cmd != nil && s.cmd.Process != nil {
				s.cmd.Process.Kill()
				s.cmd.Wait()
			}
		}
	})
	var urls []string
	for _, s := range c.nats {
		urls = append(urls, s.client)
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		c.t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe"}, Replicas: 3})
		cancel()
		if err == nil {
			js.DeleteStream(c.t.Context(), "PROBE")
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the NATS cluster does not place a stream with three replicas: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (c *chaos) startNATSServer(s *natsNode) {
	s.cmd = exec.Command(natsServerBin, s.args...)
	s.cmd.Stderr, s.cmd.Stdout = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		c.t.Error(err)
	}
}

func (c *chaos) startMocks() {
	c.mocks = freePort(c.t)
	log, err := os.Create(filepath.Join(c.dir, "mocks.log"))
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(mocksBin, "-listen", c.mocks)
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := c.http.Get("http://" + c.mocks + "/_control/faults"); err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatal("the mocks did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *chaos) call(n *chaosNode, route, key, body string) (int, map[string]any, error) {
	req, _ := http.NewRequest("POST", "http://"+n.internal+"/v1/routes/"+route, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer demo-token")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

func (c *chaos) admin(n *chaosNode, path string, out any) int {
	req, _ := http.NewRequest("GET", "http://"+n.admin+path, nil)
	req.Header.Set("Authorization", "Bearer admin-token")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("admin %s on %s: %v", path, n.name, err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(out)
	return resp.StatusCode
}

func (c *chaos) stats(n *chaosNode) map[string]int {
	var st struct{ Counts map[string]int }
	c.admin(n, "/admin/v1/stats?route=subscriber.deliver", &st)
	return st.Counts
}

func (c *chaos) mock(method, path, body string) []byte {
	req, _ := http.NewRequest(method, "http://"+c.mocks+path, strings.NewReader(body))
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("mock control %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		c.t.Fatalf("mock control %s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return raw
}

// countStored counts the route's messages in the test's database: those
// accepted, and those rejected.
func (c *chaos) countStored(db string) (accepted, rejected int) {
	conn, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/"+db+"?sslmode=disable")
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.QueryRow(`SELECT count(*) FILTER (WHERE status <> 'REJECTED'), count(*) FILTER (WHERE status = 'REJECTED')
		FROM messages WHERE route = 'subscriber.deliver'`).Scan(&accepted, &rejected); err != nil {
		c.t.Errorf("counting the stored messages: %v", err)
	}
	return accepted, rejected
}

// consoleSessionsShared: an operator signed in to the console on one node
// is signed in on the others, and signing out on any node ends it on all.
func (c *chaos) consoleSessionsShared() {
	t := c.t
	noRedirect := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm("http://"+c.nodes[0].admin+"/console/sign-in", url.Values{"token": {"admin-token"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "kopir_console" {
			cookie = ck
		}
	}
	if resp.StatusCode != http.StatusSeeOther || cookie == nil {
		t.Fatalf("signing in on %s: %d, cookie %v", c.nodes[0].name, resp.StatusCode, cookie)
	}
	page := func(n *chaosNode) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+n.admin+"/console/messages", nil)
		req.AddCookie(cookie)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, n := range c.nodes {
		if code, _ := page(n); code != http.StatusOK {
			t.Errorf("the session begun on %s is refused by %s: %d", c.nodes[0].name, n.name, code)
		}
	}
	// Sign out on the last node, with the CSRF token its page carries.
	_, body := page(c.nodes[2])
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on %s's page", c.nodes[2].name)
	}
	req, _ := http.NewRequest("POST", "http://"+c.nodes[2].admin+"/console/sign-out", strings.NewReader(url.Values{"csrf": {m[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie)
	if resp, err := noRedirect.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signing out on %s: %v %v", c.nodes[2].name, resp, err)
	}
	if code, _ := page(c.nodes[0]); code != http.StatusSeeOther {
		t.Errorf("after signing out on %s, %s still serves the session: %d", c.nodes[2].name, c.nodes[0].name, code)
	}
}
