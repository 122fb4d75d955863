// Command hookd is a durable webhook delivery service. See README.md and
// `hookd help`.
package main

import (
	"os"
	"runtime"
	"runtime/debug"
)

// version and commit are set at build time:
// go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc1234".
// Without them, commit comes from the build's VCS stamp when there is one.
var (
	version = "dev"
	commit  = ""
)

func init() {
	if commit != "" {
		return
	}
	commit = "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				commit = s.Value[:7]
			}
		}
	}
}

// versionLine is what `hookd version` prints.
func versionLine() string {
	return "hookd " + version + " (commit " + commit + ", " + runtime.Version() + ")"
}

func main() { os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr)) }
