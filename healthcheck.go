package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/config"
)

// healthcheck is `hookd healthcheck`: exit 0 when the configured server
// answers GET /readyz with 200, else 1. It is the container's HEALTHCHECK,
// so it reads the same settings as `hookd serve` (file, HOOKD_* variables)
// and needs no shell or curl in the image.
func healthcheck(args, env []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hookd healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "TOML config `file` (default: built-in defaults and HOOKD_* variables)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := parse(fs, args); err != nil {
		return exitCode(err, stderr)
	}
	cfg, err := config.Load(*path, env)
	if err != nil {
		return exitCode(err, stderr)
	}
	url := "http://" + probeAddr(cfg.Server.Listen) + "/readyz"
	code, body, err := fasthttp.GetTimeout(nil, url, *timeout)
	if err != nil || code != 200 {
		fmt.Fprintf(stderr, "hookd healthcheck: %s: status %d %s %v\n", url, code, body, errOrEmpty(err))
		return 1
	}
	fmt.Fprintf(stdout, "ready: %s\n", url)
	return 0
}

// probeAddr is where a local client reaches a listen address: a wildcard
// host (0.0.0.0, ::, empty) becomes loopback.
func probeAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

func errOrEmpty(err error) any {
	if err == nil {
		return ""
	}
	return err
}
