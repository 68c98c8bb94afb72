package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestEnvNamesAreRead: every override EnvNames lists changes the loaded
// config, directly and through its _FILE variant, so that the list the
// deployment files are checked against is what Load reads.
func TestEnvNamesAreRead(t *testing.T) {
	names := EnvNames()
	if !slices.IsSorted(names) {
		t.Fatalf("EnvNames is not sorted: %v", names)
	}
	overrides := (&Config{}).envOverrides()
	for env := range overrides {
		for _, viaFile := range []bool{false, true} {
			name := env
			if viaFile {
				name += EnvFileSuffix
			}
			if !IsEnvName(name) {
				t.Errorf("%s is read by Load but not in EnvNames", name)
			}
			t.Run(name, func(t *testing.T) {
				want := "127.0.0.1:9999"
				if viaFile {
					f := filepath.Join(t.TempDir(), "v")
					if err := os.WriteFile(f, []byte(want+"\n"), 0o600); err != nil {
						t.Fatal(err)
					}
					t.Setenv(name, f)
				} else {
					t.Setenv(name, want)
				}
				c := &Config{}
				if err := c.applyEnv(); err != nil {
					t.Fatal(err)
				}
				if got := *c.envOverrides()[env]; got != want {
					t.Errorf("%s=%s left the field at %q", name, want, got)
				}
			})
		}
	}
	for _, name := range []string{EnvConfig, EnvLogLevel, EnvAdminURL, EnvAdminToken, EnvAdminToken + EnvFileSuffix, EnvGOGC, EnvGOMEMLIMIT} {
		if !IsEnvName(name) {
			t.Errorf("%s is missing from EnvNames", name)
		}
	}
	if IsEnvName("KOPIR_DATABASE_DSN") {
		t.Error("IsEnvName accepts a name nothing reads")
	}
}
