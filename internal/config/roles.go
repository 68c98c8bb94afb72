package config

import (
	"fmt"
	"strings"
)

// Admin is an operator of the admin API and the CLI, with the role that
// decides what it may do there.
type Admin struct {
	Caller `yaml:",inline"`
	Role   Role `yaml:"role"`
}

// Role is a set of rights on the admin API. Every admin names one: an
// admin without a role would have to be given either everything (the
// mistake roles exist to prevent) or nothing (a token that cannot even
// list messages), so neither is guessed.
type Role string

// The roles. Each includes RoleViewer; RoleAdmin includes every other.
const (
	// RoleViewer reads message lists, stats, masked exchanges and breakers.
	RoleViewer Role = "viewer"
	// RoleOperator changes message state: replays, and any later write.
	RoleOperator Role = "operator"
	// RoleAuditor verifies the audit chain and takes exports.
	RoleAuditor Role = "auditor"
	// RoleAdmin has every right, for deployments too small to split them, and
	// alone may read profiles.
	RoleAdmin Role = "admin"
)

// Roles lists every role, least rights first.
var Roles = []Role{RoleViewer, RoleOperator, RoleAuditor, RoleAdmin}

// Grants reports whether an admin with role r may do what needs role need.
func (r Role) Grants(need Role) bool {
	switch {
	case r == need, r == RoleAdmin:
		return true
	case need == RoleViewer:
		return r == RoleOperator || r == RoleAuditor
	}
	return false
}

func (r Role) check() error {
	for _, known := range Roles {
		if r == known {
			return nil
		}
	}
	names := make([]string, len(Roles))
	for i, k := range Roles {
		names[i] = string(k)
	}
	if r == "" {
		return fmt.Errorf("is required: one of %s", strings.Join(names, ", "))
	}
	return fmt.Errorf("%q is not one of %s", r, strings.Join(names, ", "))
}
