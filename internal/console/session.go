package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/minfin-kz/kopir/internal/config"
)

// cookieName is the console's session cookie. It holds only a random id:
// who signed in, with which role, and the CSRF token stay on the server.
const cookieName = "kopir_console"

// session is one signed-in admin.
type session struct {
	Admin   string
	Role    config.Role
	CSRF    string
	started time.Time
	seen    time.Time
}

// sessions are kept in memory by the digest of their id, so that neither a
// heap dump nor a log line carries a usable cookie. A bus restart signs
// every operator out; that is the price of holding no credential on disk.
type sessions struct {
	mu        sync.Mutex
	m         map[[32]byte]*session
	idle, max time.Duration
	now       func() time.Time
}

func newSessions(idle, max time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[[32]byte]*session{}, idle: idle, max: max, now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// start signs a in and returns the cookie value.
func (s *sessions) start(a config.Admin) (string, *session) {
	id := randomToken()
	now := s.now()
	ss := &session{Admin: a.Name, Role: a.Role, CSRF: randomToken(), started: now, seen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	s.m[sha256.Sum256([]byte(id))] = ss
	return id, ss
}

// get returns the live session of r's cookie and extends its idle time.
func (s *sessions) get(r *http.Request) (*session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" || len(c.Value) > 64 {
		return nil, false
	}
	key := sha256.Sum256([]byte(c.Value))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[key]
	if !ok {
		return nil, false
	}
	if s.expired(ss, now) {
		delete(s.m, key)
		return nil, false
	}
	ss.seen = now
	return ss, true
}

func (s *sessions) end(r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		s.mu.Lock()
		delete(s.m, sha256.Sum256([]byte(c.Value)))
		s.mu.Unlock()
	}
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.seen) > s.idle || now.Sub(ss.started) > s.max
}

// sweep drops expired sessions; called on sign-in, so the map is bounded by
// the sign-ins of one maximum session lifetime.
func (s *sessions) sweep(now time.Time) {
	for k, ss := range s.m {
		if s.expired(ss, now) {
			delete(s.m, k)
		}
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
