package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// secretFile writes value to a file of its own and returns its path.
func secretFile(t *testing.T, value string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// withSecretFiles is base with every secret in a file: the personal-data
// key, the tokens, the route's SHEP password and a channel sender's.
var withSecretFiles = "personalDataKeyFile: %s\n" + strings.NewReplacer(
	"tokenSHA256: 2d9f0f1c5fbc4bb1a1cb7a0b0c5c0a5ea4cfc0b3b6c4b1e1c8a6c3b1d2e3f4a5", "tokenSHA256File: %s",
	"tokenSHA256: 3d9f0f1c5fbc4bb1a1cb7a0b0c5c0a5ea4cfc0b3b6c4b1e1c8a6c3b1d2e3f4a5, role: viewer", "tokenSHA256File: %s, role: operator",
	"password: x", "passwordFile: %s",
).Replace(base) + `channels:
  - name: shep
    options:
      senders: [{id: agency, passwordFile: %s}]
`

func TestSecretsFromFiles(t *testing.T) {
	callerHash, adminHash := HashToken("caller-token"), HashToken("admin-token")
	c, err := Parse("t.yaml", []byte(fmtFiles(withSecretFiles,
		secretFile(t, "pd-key\n"), secretFile(t, callerHash+"\n"), secretFile(t, adminHash), secretFile(t, "shep-pass\r\n"), secretFile(t, "agency-pass\n"))))
	if err != nil {
		t.Fatal(err)
	}
	if c.PersonalDataKey != "pd-key" || c.Callers[0].TokenSHA256 != callerHash || c.Admins[0].TokenSHA256 != adminHash || c.Admins[0].Role != RoleOperator {
		t.Errorf("top-level secrets read as %q %q %q %q", c.PersonalDataKey, c.Callers[0].TokenSHA256, c.Admins[0].TokenSHA256, c.Admins[0].Role)
	}
	// Options are decoded by their adapter or channel: they see the value
	// under the plain key, as if the file had held it.
	var route struct {
		Password string `yaml:"password"`
	}
	if err := c.Routes[0].Options.Decode(&route); err != nil || route.Password != "shep-pass" {
		t.Errorf("route options: %q %v", route.Password, err)
	}
	var channel struct {
		Senders []struct{ Password string } `yaml:"senders"`
	}
	if err := c.Channels[0].Options.Decode(&channel); err != nil || len(channel.Senders) != 1 || channel.Senders[0].Password != "agency-pass" {
		t.Errorf("channel options: %+v %v", channel, err)
	}
}

func fmtFiles(template string, paths ...string) string {
	for _, p := range paths {
		template = strings.Replace(template, "%s", p, 1)
	}
	return template
}

func TestSecretFileErrors(t *testing.T) {
	const secret = "never-print-me"
	missing := filepath.Join(t.TempDir(), "missing")
	cases := []struct{ name, doc, want string }{
		{"unreadable", fmtFiles(withSecretFiles, secretFile(t, "k"), missing, secretFile(t, "h"), secretFile(t, secret), secretFile(t, secret)),
			`t.yaml: callers[0].tokenSHA256File: cannot read secret file "` + missing + `": no such file or directory`},
		{"empty", fmtFiles(withSecretFiles, secretFile(t, "k"), secretFile(t, "h"), secretFile(t, "h"), secretFile(t, "\n"), secretFile(t, secret)),
			`t.yaml: route "gbdfl.person": options.passwordFile: secret file "`},
		{"both", strings.Replace(fmtFiles(withSecretFiles, secretFile(t, "k"), secretFile(t, "h"), secretFile(t, "h"), secretFile(t, secret), secretFile(t, secret)),
			"{id: agency,", "{id: agency, password: "+secret+",", 1),
			`t.yaml: channel "shep": options.senders[0].passwordFile: set password or passwordFile, not both`},
		{"not a path", strings.Replace(base, "tokenSHA256: 3d9f", "tokenSHA256File: [a], x: 3d9f", 1),
			`t.yaml: admins[0].tokenSHA256File: must be the path of a file`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error prints a secret: %v", err)
			}
		})
	}
}

func TestSecretsFromEnvironmentFiles(t *testing.T) {
	t.Setenv("KOPIR_PERSONAL_DATA_KEY_FILE", secretFile(t, "env-key\n"))
	t.Setenv("KOPIR_DATABASE_URL_FILE", secretFile(t, "postgres://kopir:pw@127.0.0.1/k\n"))
	c, err := Parse("t.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.PersonalDataKey != "env-key" || c.Database != "postgres://kopir:pw@127.0.0.1/k" {
		t.Errorf("read %q %q", c.PersonalDataKey, c.Database)
	}

	t.Setenv("KOPIR_PERSONAL_DATA_KEY", "env-key")
	if _, err := Parse("t.yaml", []byte(base)); err == nil || !strings.Contains(err.Error(), "set KOPIR_PERSONAL_DATA_KEY or KOPIR_PERSONAL_DATA_KEY_FILE, not both") {
		t.Errorf("both: %v", err)
	}
	os.Unsetenv("KOPIR_PERSONAL_DATA_KEY")
	t.Setenv("KOPIR_DATABASE_URL_FILE", filepath.Join(t.TempDir(), "absent"))
	if _, err := Parse("t.yaml", []byte(base)); err == nil || !strings.Contains(err.Error(), "KOPIR_DATABASE_URL_FILE: cannot read secret file") {
		t.Errorf("unreadable: %v", err)
	}
}

// A key that merely ends in "File" elsewhere in a value is left alone, and
// a document without references is decoded as written.
func TestSecretFilesLeaveOtherKeysAlone(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: {b: File, File: x}\n"), &doc); err != nil {
		t.Fatal(err)
	}
	c := &Config{file: "t.yaml"}
	if replaced, err := c.resolveSecretFiles(&doc); replaced || err != nil {
		t.Errorf("replaced %v, %v", replaced, err)
	}
}

// A secret is a string whatever it looks like: digits, a YAML keyword, a
// leading dash or several lines stay as they were in the file.
func TestSecretFileValuesStayStrings(t *testing.T) {
	for _, v := range []string{"0012", "true", "null", "- x", "a: b", "line one\nline two", "'quoted'", "#hash"} {
		c, err := Parse("t.yaml", []byte("personalDataKeyFile: "+secretFile(t, v+"\n")+"\n"+base))
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if c.PersonalDataKey != v {
			t.Errorf("file holding %q read as %q", v, c.PersonalDataKey)
		}
	}
}
