// Package bench is hookd's performance lab (`hookd bench`): it starts
// hookd as a child on a temp directory, or loads a running one over HTTP
// as any client would, runs load scenarios against it with a built-in
// receiver, and measures the machine's ceilings in the same run (loopback
// HTTP, write+fdatasync, Badger's own group commit) so that every figure
// comes with the ratio of what hookd makes of the machine.
package bench
