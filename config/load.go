package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// Override is one setting given on the command line (`--listen`, `--data`).
// Key is the dotted TOML key, such as "server.listen"; Value is parsed as
// the environment's HOOKD_* values are.
type Override struct{ Key, Value string }

// Load builds the configuration: Default(), then the TOML file at path (if
// path is not empty), then the HOOKD_<SECTION>_<KEY> variables of env (in
// os.Environ() form), then Validate(). An unknown key or variable, or a
// value that does not parse, is an error naming it.
func Load(path string, env []string) (Config, error) { return LoadWith(path, env) }

// LoadWith is Load with command-line overrides applied after the
// environment, so that flags win over variables, which win over the file.
func LoadWith(path string, env []string, flags ...Override) (Config, error) {
	c := Default()
	var dataSet bool   // events.max_data_bytes given explicitly somewhere
	var budgetSet bool // server.body_budget_bytes likewise
	if path != "" {
		md, err := c.decodeFile(path)
		if err != nil {
			return Config{}, err
		}
		dataSet = md.IsDefined("events", "max_data_bytes")
		budgetSet = md.IsDefined("server", "body_budget_bytes")
	}
	if err := c.applyEnv(env); err != nil {
		return Config{}, err
	}
	for _, kv := range env {
		dataSet = dataSet || strings.HasPrefix(kv, EnvPrefix+"EVENTS_MAX_DATA_BYTES=")
		budgetSet = budgetSet || strings.HasPrefix(kv, EnvPrefix+"SERVER_BODY_BUDGET_BYTES=")
	}
	for _, o := range flags {
		if err := c.set(o.Key, o.Value); err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		dataSet = dataSet || o.Key == "events.max_data_bytes"
		budgetSet = budgetSet || o.Key == "server.body_budget_bytes"
	}
	// A user who only lowers server.max_body_bytes gets a data limit that
	// fits in it; only an explicit max_data_bytes above it is an error.
	if !dataSet && c.Events.MaxDataBytes > c.Server.MaxBodyBytes && c.Server.MaxBodyBytes > 0 {
		c.Events.MaxDataBytes = c.Server.MaxBodyBytes
	}
	// Likewise one who only raises it past the (default) body budget gets
	// a budget that holds one such body.
	if !budgetSet && c.Server.BodyBudgetBytes < int64(c.Server.MaxBodyBytes) {
		c.Server.BodyBudgetBytes = int64(c.Server.MaxBodyBytes)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decodeFile decodes the TOML file at path over c. Keys the file sets
// replace the defaults whole (a list is not merged with the default list).
func (c *Config) decodeFile(path string) (toml.MetaData, error) {
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) && pe.LastKey != "" {
			return md, fmt.Errorf("config: %s:%d: %s: %s", path, pe.Position.Line, pe.LastKey, pe.Message)
		}
		if errors.As(err, &pe) {
			return md, fmt.Errorf("config: %s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		if m := typeErr.FindStringSubmatch(err.Error()); m != nil {
			return md, fmt.Errorf("config: %s:%s: %s: must be %s, got %s", path, m[1], m[2], article(m[4]), article(m[3]))
		}
		if m := tableErr.FindStringSubmatch(err.Error()); m != nil {
			return md, fmt.Errorf("config: %s:%s: %s: must be a table ([%s]), got %s", path, m[1], m[2], m[2], article(m[3]))
		}
		return md, fmt.Errorf("config: %s: %w", path, err)
	}
	var errs []error
	for _, k := range md.Undecoded() {
		errs = append(errs, fmt.Errorf("config: %s: unknown key %q", path, k.String()))
	}
	return md, errors.Join(errs...)
}

// typeErr is the TOML decoder's message for a value of the wrong type.
var typeErr = regexp.MustCompile(`line (\d+) \(last key "([^"]+)"\): incompatible types: TOML value has type ([\w.\[\]]+); destination has type ([\w.\[\]]+)`)

// tableErr is its message for a value where a section belongs.
var tableErr = regexp.MustCompile(`line (\d+) \(last key "([^"]+)"\): type mismatch for [\w.]+: expected table but found (\w+)`)

// article names a TOML or Go type for people: "an integer", "a string".
func article(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]"), strings.HasPrefix(t, "array"), t == "slice":
		return "a list"
	case strings.HasPrefix(t, "map"), strings.HasPrefix(t, "struct"), strings.Contains(t, "Hash"), strings.Contains(t, "table"):
		return "a table"
	}
	return t
}

// applyEnv applies the HOOKD_<SECTION>_<KEY> variables of env in order (a
// later duplicate wins). HOOKD_SERVER_LISTEN sets server.listen,
// HOOKD_AUTH_JWT_SECRET sets auth.jwt_secret.
func (c *Config) applyEnv(env []string) error {
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		section, key, ok := strings.Cut(strings.TrimPrefix(name, EnvPrefix), "_")
		if !ok {
			return fmt.Errorf("config: %s: unknown setting (want %s<SECTION>_<KEY>)", name, EnvPrefix)
		}
		dotted := strings.ToLower(section) + "." + strings.ToLower(key)
		if err := c.set(dotted, value); err != nil {
			return fmt.Errorf("config: %s: %w", name, err)
		}
	}
	return nil
}

// EnvPrefix starts every environment variable that Load reads.
const EnvPrefix = "HOOKD_"
