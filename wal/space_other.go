//go:build !linux

package wal

import (
	"errors"
	"os"
)

// statfsFree: outside Linux the store keeps no reserve (Open sees
// errNoStatfs and turns the checks off).
func statfsFree(string) (uint64, error) { return 0, errNoStatfs }

func fallocate(*os.File, int64) error { return errors.ErrUnsupported }

func allocUnsupported(err error) bool { return errors.Is(err, errors.ErrUnsupported) }
