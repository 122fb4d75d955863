package wal_test

import (
	"testing"

	"hookd/engine/storetest"
	"hookd/wal"
)

// The Badger store passes the store conformance suite (the contract of
// the store boundary, engine/storetest).
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T, dir string) storetest.Store {
			s, err := wal.Open(wal.Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Fail: func(s storetest.Store, err error) { wal.FailSyncs(s.(*wal.Store), err) },
	})
}
