//go:build race

package wal

// raceEnabled: built with the race detector (go test -race).
const raceEnabled = true
