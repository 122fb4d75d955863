// Command hookd is a durable webhook delivery service. See README.md and
// `hookd help`.
package main

import "os"

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr)) }
