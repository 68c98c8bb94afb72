package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// SecretFileSuffix turns any key of the file into a reference to a file
// holding its value: `passwordFile: /run/secrets/shep` stands for
// `password: <contents>`. It is resolved on the document before anything
// decodes it, so adapter and channel options — which plugins decode
// themselves — get it without knowing about it.
const SecretFileSuffix = "File"

// EnvFileSuffix is the environment's counterpart: KOPIR_X_FILE names a file
// holding the value of KOPIR_X.
const EnvFileSuffix = "_FILE"

// ReadSecretFile reads a secret kept in a file, once, at start-up. The
// trailing line break an editor or `echo` adds is not part of the secret.
// The error names the file and never the contents.
func ReadSecretFile(path string) (string, error) {
	if path == "" {
		return "", errors.New("no file named")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("cannot read secret file %q: %v", path, err)
	}
	v := strings.TrimRight(string(raw), "\r\n")
	if v == "" {
		return "", fmt.Errorf("secret file %q is empty", path)
	}
	return v, nil
}

// resolveSecretFiles replaces, everywhere in the document, each key
// `<name>File` by `<name>` with the contents of the file it names. Setting
// both is an error: which one wins would be a guess.
// It reports whether any key was replaced.
func (c *Config) resolveSecretFiles(doc *yaml.Node) (bool, error) {
	var errs []error
	replaced := false
	var walk func(n *yaml.Node, where string)
	walk = func(n *yaml.Node, where string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, k := range n.Content {
				walk(k, where)
			}
		case yaml.SequenceNode:
			for i, item := range n.Content {
				at := fmt.Sprintf("%s[%d]", where, i)
				// Routes and channels are named in errors by their name, as
				// elsewhere in this package, rather than by their position.
				if named := mappingName(item); named != "" && (where == "routes" || where == "channels") {
					at = fmt.Sprintf("%s %q", strings.TrimSuffix(where, "s"), named)
				}
				walk(item, at)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, val := n.Content[i], n.Content[i+1]
				field := joinField(where, key.Value)
				name, isRef := strings.CutSuffix(key.Value, SecretFileSuffix)
				if !isRef || name == "" {
					walk(val, field)
					continue
				}
				if mappingKey(n, name) != nil {
					errs = append(errs, c.secretError(field, fmt.Sprintf("set %s or %s, not both", name, key.Value)))
					continue
				}
				if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
					errs = append(errs, c.secretError(field, "must be the path of a file"))
					continue
				}
				secret, err := ReadSecretFile(val.Value)
				if err != nil {
					errs = append(errs, c.secretError(field, err.Error()))
					continue
				}
				key.Value, replaced = name, true
				*val = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: secret, Line: val.Line, Column: val.Column}
			}
		}
	}
	walk(doc, "")
	return replaced, errors.Join(errs...)
}

func (c *Config) secretError(field, msg string) error {
	return &FieldError{File: c.file, Field: field, Msg: msg}
}

// joinField is the dotted path of a key, with a named route or channel
// shown as `route "x": key`.
func joinField(where, key string) string {
	switch {
	case where == "":
		return key
	case strings.HasSuffix(where, `"`):
		return where + ": " + key
	}
	return where + "." + key
}

func mappingKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func mappingName(m *yaml.Node) string {
	if m.Kind != yaml.MappingNode {
		return ""
	}
	if n := mappingKey(m, "name"); n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// FromEnv sets *dst from env, or from the file env_FILE names, and leaves
// it alone when neither is set; both at once is an error.
func FromEnv(env string, dst *string) error {
	v, direct := os.LookupEnv(env)
	file, fromFile := os.LookupEnv(env + EnvFileSuffix)
	switch {
	case direct && fromFile:
		return fmt.Errorf("environment: set %s or %s, not both", env, env+EnvFileSuffix)
	case fromFile:
		secret, err := ReadSecretFile(file)
		if err != nil {
			return fmt.Errorf("environment: %s: %v", env+EnvFileSuffix, err)
		}
		*dst = secret
	case direct:
		*dst = v
	}
	return nil
}
