package config

import (
	"errors"
	"fmt"
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
	if path != "" {
		if err := c.decodeFile(path); err != nil {
			return Config{}, err
		}
	}
	if err := c.applyEnv(env); err != nil {
		return Config{}, err
	}
	for _, o := range flags {
		if err := c.set(o.Key, o.Value); err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decodeFile decodes the TOML file at path over c. Keys the file sets
// replace the defaults whole (a list is not merged with the default list).
func (c *Config) decodeFile(path string) error {
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) && pe.LastKey != "" {
			return fmt.Errorf("config: %s:%d: %s: %s", path, pe.Position.Line, pe.LastKey, pe.Message)
		}
		if errors.As(err, &pe) {
			return fmt.Errorf("config: %s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return fmt.Errorf("config: %s: %w", path, err)
	}
	var errs []error
	for _, k := range md.Undecoded() {
		errs = append(errs, fmt.Errorf("config: %s: unknown key %q", path, k.String()))
	}
	return errors.Join(errs...)
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
