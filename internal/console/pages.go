package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/internal/admin"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// searchFields are the messages page's filters, in the admin API's names
// (admin.FilterFromQuery is the one reader of them), plus the two times
// the form's datetime-local inputs give without a zone.
var searchFields = []string{"status", "route", "caller", "direction", "correlationId", "externalId", "subject"}

// Statuses lists every status a message can stand in, for the filter.
var statuses = store.Statuses

// localTime is the layout of <input type=datetime-local>; the console
// reads and writes it as UTC, and says so next to the inputs.
const localTime = "2006-01-02T15:04"

// filterFromForm turns the messages form into the admin API's query, so
// the console accepts exactly what the API does and refuses it in the
// same words.
func filterFromForm(q url.Values) (store.Filter, url.Values, error) {
	api := url.Values{}
	kept := url.Values{}
	for _, k := range searchFields {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			api.Set(k, v)
			kept.Set(k, v)
		}
	}
	for form, param := range map[string]string{"from": "since", "to": "before"} {
		v := strings.TrimSpace(q.Get(form))
		if v == "" {
			continue
		}
		kept.Set(form, v)
		t, err := time.Parse(localTime, v)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, v); err != nil {
				return store.Filter{}, kept, &admin.ParamError{Param: form, Msg: fmt.Sprintf("%q is not a date and time (YYYY-MM-DDTHH:MM, UTC)", v)}
			}
		}
		api.Set(param, t.UTC().Format(time.RFC3339))
	}
	if v := q.Get("after"); v != "" {
		api.Set("after", v)
	}
	api.Set("limit", "50")
	f, err := admin.FilterFromQuery(api)
	return f, kept, err
}

type statusCount struct {
	Status   store.Status
	N        int
	Selected bool
	Link     string
}

func (c *Console) messages(w http.ResponseWriter, r *http.Request, s *session) {
	f, kept, err := filterFromForm(r.URL.Query())
	v := messagesView{Form: kept, Routes: c.routeNames(), Fragment: "/console/messages?" + withFragment(kept)}
	show := func(status int) {
		if r.URL.Query().Get("fragment") == "results" { // what the live refresh fetches
			c.write(w, r, status, "results", messageResults(v))
			return
		}
		c.render(w, r, status, s, "Messages", messagesPage(v))
	}
	if err != nil {
		errors.As(err, &v.FieldError)
		show(http.StatusBadRequest)
		return
	}
	items, err := c.admin.Store.List(r.Context(), f)
	if err != nil {
		c.storeFailed(w, r, s, "the page after "+f.AfterID, err)
		return
	}
	counted := f
	counted.Status, counted.AfterID, counted.Limit = "", "", 0
	counts, err := c.admin.Store.Count(r.Context(), counted)
	if err != nil {
		c.storeFailed(w, r, s, "the counts", err)
		return
	}
	var cs []statusCount
	total := 0
	for _, st := range statuses {
		q := cloneValues(kept)
		q.Set("status", string(st))
		cs = append(cs, statusCount{Status: st, N: counts[st], Selected: f.Status == st, Link: "/console/messages?" + q.Encode()})
		total += counts[st]
	}
	all := cloneValues(kept)
	all.Del("status")
	v.Items, v.Counts, v.Total, v.AllLink = items, cs, total, "/console/messages?"+all.Encode()
	if len(items) == f.Limit {
		next := cloneValues(kept)
		next.Set("after", items[len(items)-1].ID)
		v.Next = "/console/messages?" + next.Encode()
	}
	if f.AfterID != "" {
		v.First = "/console/messages?" + kept.Encode()
	}
	v.CanReplay = s.Role.Grants(c.roleOf("POST /admin/v1/replay")) && (f.Status == store.Dead || f.Status == store.Failed)
	v.ReplayLink = "/console/replay?" + kept.Encode()
	show(http.StatusOK)
}

func withFragment(q url.Values) string {
	q = cloneValues(q)
	q.Set("fragment", "results")
	return q.Encode()
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}

// routeNames lists the routes the bus knows, for the filter's suggestions.
func (c *Console) routeNames() []string {
	var names []string
	if c.admin.Routes != nil {
		names = c.admin.Routes()
	}
	return names
}

// attemptView is one attempt with its bodies formatted.
type attemptView struct {
	store.Attempt
	Request, Response *body
}

// related is a link from the exchange view to another message.
type related struct {
	ID, Route, Why string
	Status         store.Status
}

var uuidLike = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// idLike picks the words of an audit detail that may be a message's
// external id (a pacs.002 MsgId, a SHEP messageId).
var idLike = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9._:-]{3,63}`)

func (c *Console) exchange(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if !routes.ValidMessageID(id) {
		c.fail(w, r, s, http.StatusBadRequest, "Not a message id", "the address does not hold a message id")
		return
	}
	ctx := r.Context()
	m, err := c.admin.Store.Get(ctx, id)
	if err != nil {
		c.storeFailed(w, r, s, "message "+id, err)
		return
	}
	atts, err := c.admin.Store.Attempts(ctx, id)
	if err != nil {
		c.storeFailed(w, r, s, "message "+id, err)
		return
	}
	audit, err := c.admin.Store.Audit(ctx, id)
	if err != nil {
		c.storeFailed(w, r, s, "message "+id, err)
		return
	}
	var views []attemptView
	for _, a := range atts {
		views = append(views, attemptView{Attempt: a, Request: formatBody(a.RequestBody), Response: formatBody(a.ResponseBody)})
	}
	rel, err := c.related(r, m, audit)
	if err != nil {
		c.storeFailed(w, r, s, "messages related to "+id, err)
		return
	}
	v := exchangeView{
		M: m, Attempts: views, Audit: audit, Related: rel,
		Request: formatBody(m.RequestBody), Response: formatBody(m.ResponseBody),
		CanReplay:  (m.Status == store.Dead || m.Status == store.Failed) && s.Role.Grants(c.roleOf("POST /admin/v1/messages/{id}/replay")),
		Replayable: m.Status == store.Dead || m.Status == store.Failed,
		Done:       doneSeq(r), // after an action the page shows the audit entry it wrote
	}
	if c.held != nil && m.Status == store.Held {
		v.HeldLink = "/console/held/" + m.ID
	}
	c.render(w, r, http.StatusOK, s, "Message "+short(m.ID), exchangePage(v))
}

// related finds the messages tied to m: the same correlation id or
// subject, message ids named on its audit trail, and messages whose
// external id its trail names (a payment's status reports, an auction's
// settlements) — each found through an index, and a bounded number.
func (c *Console) related(r *http.Request, m *store.Message, audit []store.AuditRecord) ([]related, error) {
	ctx := r.Context()
	seen := map[string]bool{m.ID: true}
	var out []related
	add := func(list []store.Message, why string) {
		for _, o := range list {
			if !seen[o.ID] && len(out) < 50 {
				seen[o.ID] = true
				out = append(out, related{ID: o.ID, Route: o.Route, Status: o.Status, Why: why})
			}
		}
	}
	if m.CorrelationID != "" && m.CorrelationID != m.ID {
		list, err := c.admin.Store.List(ctx, store.Filter{CorrelationID: m.CorrelationID, Limit: 20})
		if err != nil {
			return nil, err
		}
		add(list, "same correlation id")
	}
	if m.Subject != "" {
		list, err := c.admin.Store.List(ctx, store.Filter{Subject: m.Subject, Limit: 20})
		if err != nil {
			return nil, err
		}
		add(list, "about "+m.Subject)
	}
	words := map[string]bool{}
	for _, a := range audit {
		for _, id := range uuidLike.FindAllString(a.Detail, -1) {
			if !seen[id] {
				if o, err := c.admin.Store.Get(ctx, id); err == nil {
					add([]store.Message{*o}, "named by "+a.Action)
				}
			}
		}
		if a.Actor == "bus" || a.Actor == m.Caller {
			continue // the bus's own words name no other message
		}
		for _, w := range idLike.FindAllString(a.Detail, -1) {
			if len(words) < 20 && w != m.ExternalID {
				words[w] = true
			}
		}
	}
	for w := range words {
		list, err := c.admin.Store.List(ctx, store.Filter{ExternalID: w, Limit: 5})
		if err != nil {
			return nil, err
		}
		add(list, "its trail names "+w)
	}
	return out, nil
}

func (c *Console) confirmReplay(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if !routes.ValidMessageID(id) {
		c.fail(w, r, s, http.StatusBadRequest, "Not a message id", "the address does not hold a message id")
		return
	}
	m, err := c.admin.Store.Get(r.Context(), id)
	if err != nil {
		c.storeFailed(w, r, s, "message "+id, err)
		return
	}
	c.render(w, r, http.StatusOK, s, "Replay "+short(m.ID)+"?", confirmReplayPage(s, m))
}

func (c *Console) replay(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if !routes.ValidMessageID(id) {
		c.fail(w, r, s, http.StatusBadRequest, "Not a message id", "the address does not hold a message id")
		return
	}
	if _, err := c.admin.Replayer.Replay(r.Context(), id, s.Admin); err != nil {
		var p *problem.Problem
		if errors.As(err, &p) {
			c.fail(w, r, s, p.Status, p.Title, p.Detail)
			return
		}
		c.storeFailed(w, r, s, "message "+id, err)
		return
	}
	http.Redirect(w, r, "/console/messages/"+id+c.doneBy(r, s, id), http.StatusSeeOther)
}

// doneBy is the query that has a message's page show the audit entry the
// signed-in admin's action just wrote: the newest in their name.
func (c *Console) doneBy(r *http.Request, s *session, id string) string {
	audit, err := c.admin.Store.Audit(r.Context(), id)
	if err != nil {
		return "" // the page shows the trail anyway
	}
	for i := len(audit) - 1; i >= 0; i-- {
		if audit[i].Actor == s.Admin {
			return "?done=" + strconv.FormatInt(audit[i].Seq, 10)
		}
	}
	return ""
}

// bulkFilter reads a bulk replay's selection the way the admin API does.
func bulkFilter(q url.Values) (store.Filter, url.Values, error) {
	f, kept, err := filterFromForm(q)
	if err != nil {
		return f, kept, err
	}
	if f.Status != store.Dead && f.Status != store.Failed {
		return f, kept, &admin.ParamError{Param: "status", Msg: "only DEAD or FAILED messages are replayed; choose one of them"}
	}
	f.Limit, f.AfterID = 0, ""
	return f, kept, nil
}

func (c *Console) confirmBulk(w http.ResponseWriter, r *http.Request, s *session) {
	f, kept, err := bulkFilter(r.URL.Query())
	if err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "Cannot replay this selection", err.Error())
		return
	}
	counts, err := c.admin.Store.Count(r.Context(), f)
	if err != nil {
		c.storeFailed(w, r, s, "the counts", err)
		return
	}
	v := bulkView{Form: kept, N: counts[f.Status], Status: f.Status, Max: admin.MaxBulkReplay, Back: "/console/messages?" + kept.Encode()}
	c.render(w, r, http.StatusOK, s, fmt.Sprintf("Replay %d messages?", v.N), confirmBulkPage(s, v))
}

func (c *Console) bulk(w http.ResponseWriter, r *http.Request, s *session) {
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "Unreadable form", err.Error())
		return
	}
	f, _, err := bulkFilter(r.PostForm)
	if err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "Cannot replay this selection", err.Error())
		return
	}
	f.Limit = admin.MaxBulkReplay
	job := c.admin.Replayer.StartBulk(f, s.Admin)
	http.Redirect(w, r, "/console/replay/"+job.ID, http.StatusSeeOther)
}

func (c *Console) job(w http.ResponseWriter, r *http.Request, s *session) {
	j, ok := c.admin.Replayer.Job(r.PathValue("job"))
	if !ok {
		c.fail(w, r, s, http.StatusNotFound, "Unknown replay job", "no replay job has this id")
		return
	}
	snap := j.Snapshot()
	if r.URL.Query().Get("format") == "json" { // the progress bar polls this
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(snap)
		return
	}
	c.render(w, r, http.StatusOK, s, "Bulk replay", jobPage(snap, percent(snap.Replayed+snap.Failed, snap.Total, !snap.Running)))
}

// doneSeq is the audit entry a page names after an action (?done=), 0
// for none.
func doneSeq(r *http.Request) int64 {
	seq, _ := strconv.ParseInt(r.URL.Query().Get("done"), 10, 64)
	return seq
}

// sortedKeys lists a map's keys in order, so a page reads the same each time.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func percent(done, total int, finished bool) int {
	if total == 0 {
		if finished {
			return 100
		}
		return 0
	}
	return done * 100 / total
}

// breakerView is one breaker row.
type breakerView struct {
	admin.BreakerState
	HalfOpenIn string
}

func (c *Console) health(w http.ResponseWriter, r *http.Request, s *session) {
	now := readMetrics(c.metrics, c.now())
	var bs []breakerView
	if c.admin.Breakers != nil {
		for _, b := range c.admin.Breakers() {
			v := breakerView{BreakerState: b}
			if b.OpenUntil != nil {
				v.HalfOpenIn = max(time.Until(*b.OpenUntil), 0).Round(time.Second).String()
			}
			bs = append(bs, v)
		}
	}
	var busy []RouteHealth
	idle := 0
	for _, rh := range c.rates.summary(now) {
		if rh.HasTraffic || rh.Depth > 0 {
			busy = append(busy, rh)
		} else {
			idle++
		}
	}
	v := healthView{Breakers: bs, Routes: busy, Idle: idle, Now: now.at,
		AuditBroken: now.auditBroken == 1, CanVerify: s.Role.Grants(c.roleOf("GET /admin/v1/audit/verify"))}
	if now.auditLast > 0 {
		v.AuditLast = time.Unix(int64(now.auditLast), 0).UTC()
	}
	v.Verify, _ = c.lastVerify.Load().(*verifyView)
	if c.admin.Ready != nil {
		if err := c.admin.Ready(); err != nil {
			v.NotReady = err.Error()
		}
	}
	c.render(w, r, http.StatusOK, s, "Health", healthPage(s, v))
}

// verifyView is the last walk of the audit chain started from the console.
type verifyView struct {
	store.VerifyResult
	By    string
	At    time.Time
	Error string
}

func (c *Console) verify(w http.ResponseWriter, r *http.Request, s *session) {
	res, err := c.admin.Store.VerifyAudit(r.Context())
	at := c.now().UTC()
	if c.admin.AuditVerified != nil {
		c.admin.AuditVerified(res.OK, err, at)
	}
	v := &verifyView{VerifyResult: res, By: s.Admin, At: at}
	if err != nil {
		c.log.Error("console: audit verification failed", "err", err)
		v.Error = "the walk could not finish: the store did not answer"
	}
	c.lastVerify.Store(v)
	c.log.Info("console: audit chain verified", "admin", s.Admin, "ok", res.OK, "records", res.Records)
	http.Redirect(w, r, "/console/health#audit", http.StatusSeeOther)
}

// seconds shows a duration in seconds for people: 850 ms, 2.4 s, 3m12s.
func seconds(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v < 0.01:
		return fmt.Sprintf("%.1f ms", v*1000)
	case v < 1:
		return fmt.Sprintf("%.0f ms", v*1000)
	case v < 60:
		return fmt.Sprintf("%.1f s", v)
	}
	return (time.Duration(v) * time.Second).String()
}
