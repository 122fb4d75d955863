package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"hookd/config"
)

const usage = `usage:
  hookd                          serve with the built-in defaults
  hookd serve [--config FILE] [--listen ADDR] [--data DIR]
  hookd token [--config FILE] --tenant T [--account A] --roles r1,r2 [--ttl 1h]
  hookd healthcheck [--config FILE] [--timeout 3s]
                                 exit 0 when the server answers /readyz with 200
  hookd backup [--config FILE] [--url URL] [--token T] --out FILE
                                 online backup of the running server (role hookd-operator)
  hookd restore [--config FILE] --in FILE [--data DIR]
                                 restore a backup into an empty data dir, server stopped
  hookd version
  hookd bench [SCENARIO ...] [--runs N] [--json] [--report DIR] [--url URL --token T] [...]
                                 the performance lab: starts hookd and a receiver, prints
                                 figures with this machine's ceilings (hookd bench --help)
  hookd help                     this text; every subcommand takes --help

Settings: built-in defaults < --config FILE < HOOKD_<SECTION>_<KEY>
environment variables < --listen/--data flags. See config.example.toml.
`

// run is the whole command line; it returns the process exit code:
// 0 success, 1 failure, 2 usage error.
func run(args, env []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return serve(nil, env, stdout, stderr)
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(rest, env, stdout, stderr)
	case "token":
		return token(rest, env, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionLine())
		return 0
	case "healthcheck":
		return healthcheck(rest, env, stdout, stderr)
	case "backup":
		return backupCmd(rest, env, stdout, stderr)
	case "restore":
		return restoreCmd(rest, env, stdout, stderr)
	case "bench":
		return benchCmd(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		if strings.HasPrefix(cmd, "-") { // `hookd --config F` is `hookd serve --config F`
			return serve(args, env, stdout, stderr)
		}
		fmt.Fprintf(stderr, "hookd: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// serveConfig parses the flags of `hookd serve` and loads the configuration
// they name; --listen and --data win over the file and the environment.
func serveConfig(args, env []string, stderr io.Writer) (config.Config, error) {
	fs := flag.NewFlagSet("hookd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "TOML config `file` (default: built-in defaults)")
	fs.String("listen", "", "listen `address` host:port, overrides server.listen (port 0: any free port)")
	fs.String("data", "", "data `dir`ectory, overrides storage.dir")
	if err := parse(fs, args); err != nil {
		return config.Config{}, err
	}
	var flags []config.Override
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			flags = append(flags, config.Override{Key: "server.listen", Value: f.Value.String()})
		case "data":
			flags = append(flags, config.Override{Key: "storage.dir", Value: f.Value.String()})
		}
	})
	return config.LoadWith(*path, env, flags...)
}

// errUsage is a command-line mistake whose message flag has already printed.
var errUsage = errors.New("usage")

// parse parses a subcommand's flags and refuses positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// exitCode turns a command's error into its exit code, printing it unless
// flag has already done so.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "hookd: %v\n", err)
		return 1
	}
}
