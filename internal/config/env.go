package config

import "slices"

// Environment variables the kopir binary reads besides the config
// overrides. They are named here, next to the overrides, so that one list
// (EnvNames) says everything the binary reads: the deployment files in
// deploy/ are checked against it, and a variable they set that nothing
// reads would otherwise be a setting silently ignored.
const (
	// EnvConfig is the config file kopir serve and the CLI read.
	EnvConfig = "KOPIR_CONFIG"
	// EnvLogLevel is kopir serve's log level.
	EnvLogLevel = "KOPIR_LOG_LEVEL"
	// EnvAdminURL and EnvAdminToken (or its _FILE variant) point the CLI
	// at the admin API.
	EnvAdminURL   = "KOPIR_ADMIN_URL"
	EnvAdminToken = "KOPIR_ADMIN_TOKEN"
	// EnvGOGC and EnvGOMEMLIMIT are the Go runtime's own; kopir serve
	// sets its defaults only when they are absent.
	EnvGOGC       = "GOGC"
	EnvGOMEMLIMIT = "GOMEMLIMIT"
)

// envOverrides maps each environment override to the field it sets; each
// may also come from the file its _FILE variant names.
func (c *Config) envOverrides() map[string]*string {
	return map[string]*string{
		"KOPIR_DATABASE_URL":    &c.Database,
		"KOPIR_NATS_URL":        &c.NATS,
		"KOPIR_REDIS_URL":       &c.Redis,
		"KOPIR_DATA_DIR":        &c.DataDir,
		"KOPIR_LISTEN_INTERNAL": &c.Listen.Internal,
		"KOPIR_LISTEN_AGENCY":   &c.Listen.Agency,
		"KOPIR_LISTEN_ADMIN":    &c.Listen.Admin,
		"KOPIR_NATS_STREAM":     &c.NATSStream,
		// A secret: the environment keeps it out of the file.
		"KOPIR_PERSONAL_DATA_KEY": &c.PersonalDataKey,
	}
}

// EnvNames is every environment variable the kopir binary reads, sorted:
// the config overrides and the admin token each with its _FILE variant,
// the CLI's and serve's own, and the Go runtime's two that serve tunes.
// Variables an adapter's options name (passwordEnv) are the config's
// choice and not in it.
func EnvNames() []string {
	var names []string
	for env := range (&Config{}).envOverrides() {
		names = append(names, env, env+EnvFileSuffix)
	}
	names = append(names, EnvConfig, EnvLogLevel, EnvAdminURL, EnvAdminToken, EnvAdminToken+EnvFileSuffix, EnvGOGC, EnvGOMEMLIMIT)
	slices.Sort(names)
	return names
}

// IsEnvName reports whether the kopir binary reads the variable name.
func IsEnvName(name string) bool {
	_, found := slices.BinarySearch(EnvNames(), name)
	return found
}
