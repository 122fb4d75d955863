package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"hookd/api"
	"hookd/config"
)

// token is `hookd token`: it prints an HS256 JWT signed with
// auth.jwt_secret, for local use and tests.
func token(args, env []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hookd token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "TOML config `file` holding auth.jwt_secret (or set HOOKD_AUTH_JWT_SECRET)")
	tenant := fs.String("tenant", "", "tenant claim (required)")
	account := fs.String("account", "", "account claim (optional)")
	roles := fs.String("roles", "", "comma-separated roles (required): "+strings.Join(config.Roles(), ", "))
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	if err := parse(fs, args); err != nil {
		return exitCode(err, stderr)
	}
	cfg, err := config.Load(*path, env)
	if err != nil {
		return exitCode(err, stderr)
	}
	tok, err := mintToken(cfg, *tenant, *account, splitRoles(*roles), *ttl)
	if err != nil {
		return exitCode(fmt.Errorf("token: %w", err), stderr)
	}
	if cfg.Auth.Mode != config.AuthJWT {
		fmt.Fprintf(stderr, "hookd token: warning: auth.mode is %q, so a server with this config ignores the token\n", cfg.Auth.Mode)
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

func splitRoles(s string) []string {
	var out []string
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// mintToken checks the command line's claims and signs them with
// api.MintToken, the same code the server's tests verify against.
func mintToken(cfg config.Config, tenant, account string, roles []string, ttl time.Duration) (string, error) {
	a := cfg.Auth
	switch {
	case a.JWTSecret == "":
		return "", errors.New("auth.jwt_secret is empty: set it in the config file or HOOKD_AUTH_JWT_SECRET")
	case tenant == "":
		return "", errors.New("--tenant is required")
	case !config.ValidTenant(tenant):
		return "", fmt.Errorf("--tenant: must be 1..64 characters of [A-Za-z0-9._-], got %q", tenant)
	case account != "" && !config.ValidTenant(account):
		return "", fmt.Errorf("--account: must be 1..64 characters of [A-Za-z0-9._-], got %q", account)
	case len(roles) == 0:
		return "", fmt.Errorf("--roles: name at least one of %s", strings.Join(config.Roles(), ", "))
	case ttl <= 0:
		return "", fmt.Errorf("--ttl: must be > 0, got %s", ttl)
	}
	for _, r := range roles {
		if !config.ValidRole(r) {
			return "", fmt.Errorf("--roles: unknown role %q (want %s)", r, strings.Join(config.Roles(), ", "))
		}
	}
	return api.MintToken(a, tenant, account, roles, ttl, time.Now())
}
