package config

import (
	"strings"
	"testing"
)

func TestAdminRoleRequired(t *testing.T) {
	for doc, want := range map[string]string{
		strings.Replace(base, ", role: viewer}", "}", 1):            `t.yaml: admins[0].role: is required: one of viewer, operator, auditor, admin`,
		strings.Replace(base, "role: viewer", "role: superuser", 1): `t.yaml: admins[0].role: "superuser" is not one of viewer, operator, auditor, admin`,
	} {
		if _, err := Parse("t.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v\nwant %s", err, want)
		}
	}
}

func TestRoleGrants(t *testing.T) {
	// Each row: what the role may do, in the order of Roles.
	want := map[Role][4]bool{
		RoleViewer:   {true, false, false, false},
		RoleOperator: {true, true, false, false},
		RoleAuditor:  {true, false, true, false},
		RoleAdmin:    {true, true, true, true},
	}
	for have, row := range want {
		for i, need := range Roles {
			if got := have.Grants(need); got != row[i] {
				t.Errorf("%s grants %s: %v, want %v", have, need, got, row[i])
			}
		}
	}
	if Role("").Grants(RoleViewer) {
		t.Error("no role grants nothing")
	}
}
