package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/minfin-kz/kopir/internal/config"
)

// cookieName is the console's session cookie. It holds only a random id:
// who signed in, with which role, and the CSRF token stay on the bus.
const cookieName = "kopir_console"

// session is one signed-in admin.
type session struct {
	Admin   string      `json:"admin"`
	Role    config.Role `json:"role"`
	CSRF    string      `json:"csrf"`
	Started time.Time   `json:"started"`
	Seen    time.Time   `json:"seen"`
}

// ErrNoSession is what a SessionStore's Get answers for an unknown key.
var ErrNoSession = errors.New("no such console session")

// SessionStore keeps sessions where every node of the bus reads them, so
// that an operator signed in on one node is signed in on all (the app
// gives a JetStream key-value bucket whose entries expire after the
// longest session). Keys are digests of the cookies: what the store holds
// cannot be sent back as a cookie.
type SessionStore interface {
	Put(ctx context.Context, key string, value []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
}

// memorySessions is the SessionStore of a console given none: this
// process's memory, for tests and tools.
type memorySessions struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memorySessions) Put(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
	return nil
}

func (s *memorySessions) Get(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[k]; ok {
		return v, nil
	}
	return nil, ErrNoSession
}

func (s *memorySessions) Delete(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

// sessions signs admins in and finds them again by cookie. A session ends
// after idle without a request or max in all; its last use is written back
// at most once per touchEvery, so that a console refreshing every few
// seconds does not write on every request.
type sessions struct {
	store     SessionStore
	idle, max time.Duration
	now       func() time.Time
}

const touchEvery = 30 * time.Second

func newSessions(store SessionStore, idle, max time.Duration, now func() time.Time) *sessions {
	if store == nil {
		store = &memorySessions{m: map[string][]byte{}}
	}
	return &sessions{store: store, idle: idle, max: max, now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionKey(cookie string) string {
	d := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(d[:])
}

// start signs a in and returns the cookie value.
func (s *sessions) start(ctx context.Context, a config.Admin) (string, *session, error) {
	id := randomToken()
	now := s.now()
	ss := &session{Admin: a.Name, Role: a.Role, CSRF: randomToken(), Started: now, Seen: now}
	v, _ := json.Marshal(ss)
	if err := s.store.Put(ctx, sessionKey(id), v); err != nil {
		return "", nil, err
	}
	return id, ss, nil
}

// get returns the live session of r's cookie, extending its idle time.
// An unknown, expired or unreadable session is no session: the operator
// signs in again.
func (s *sessions) get(r *http.Request) (*session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" || len(c.Value) > 64 {
		return nil, false
	}
	ctx, key := r.Context(), sessionKey(c.Value)
	v, err := s.store.Get(ctx, key)
	if err != nil {
		return nil, false
	}
	var ss session
	if json.Unmarshal(v, &ss) != nil {
		return nil, false
	}
	now := s.now()
	if now.Sub(ss.Seen) > s.idle || now.Sub(ss.Started) > s.max {
		s.store.Delete(ctx, key)
		return nil, false
	}
	if now.Sub(ss.Seen) >= touchEvery {
		ss.Seen = now
		if v, err := json.Marshal(&ss); err == nil {
			s.store.Put(ctx, key, v) // a failed touch only shortens the session
		}
	}
	return &ss, true
}

func (s *sessions) end(r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		s.store.Delete(r.Context(), sessionKey(c.Value))
	}
}

// validCSRF compares in constant time.
func (ss *session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(ss.CSRF)) == 1
}

func setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: "/console/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: maxAge})
}
