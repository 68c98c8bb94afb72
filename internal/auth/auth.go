// Package auth identifies who is calling: the bearer token of a request
// matched against the configured callers or admins. The internal and the
// admin API share it, so neither depends on the other.
package auth

import (
	"net/http"
	"strings"

	"github.com/minfin-kz/kopir/internal/config"
)

// Caller finds whose bearer token r carries.
func Caller(callers []config.Caller, r *http.Request) (string, bool) {
	token, ok := bearer(r)
	if !ok {
		return "", false
	}
	for _, c := range callers {
		if c.Matches(token) {
			return c.Name, true
		}
	}
	return "", false
}

// Admin finds the admin whose bearer token r carries, with its role.
func Admin(admins []config.Admin, r *http.Request) (config.Admin, bool) {
	token, ok := bearer(r)
	if !ok {
		return config.Admin{}, false
	}
	return AdminByToken(admins, token)
}

// AdminByToken finds the admin whose token is token: how the console signs
// an admin in from a form instead of a header.
func AdminByToken(admins []config.Admin, token string) (config.Admin, bool) {
	if token == "" {
		return config.Admin{}, false
	}
	for _, a := range admins {
		if a.Matches(token) {
			return a, true
		}
	}
	return config.Admin{}, false
}

func bearer(r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return token, ok && token != ""
}
