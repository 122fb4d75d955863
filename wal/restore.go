package wal

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
)

// restoringFile marks a data directory whose restore has not finished:
// Restore creates it first and removes it last, and Open refuses a
// directory that holds it, so a restore cut short (killed, power cut) is
// never served as if it were the whole backup.
const restoringFile = "RESTORE-INCOMPLETE"

// checkRestored is Open's refusal of an unfinished restore.
func checkRestored(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, restoringFile)); err == nil {
		return fmt.Errorf("wal: open %s: a restore into this directory did not finish (%s is there); "+
			"empty the directory and run hookd restore again", dir, restoringFile)
	}
	return nil
}

// RestoreStats says what Restore loaded.
type RestoreStats struct {
	Entries int64
}

// Restore loads the backup file r (size bytes, as Backup.Stream wrote
// it) into opts.Dir, which must be empty or absent: it never merges into
// or overwrites a store. No store may have the directory open. The
// directory is left empty again when the restore fails, and holds a
// restoringFile (which Open refuses) while it runs.
func Restore(opts Options, r io.Reader, size int64) (RestoreStats, error) {
	opts.setDefaults()
	if opts.InMemory {
		return RestoreStats{}, errors.New("wal: restore: needs a directory")
	}
	dir := opts.Dir
	if err := emptyDir(dir); err != nil {
		return RestoreStats{}, err
	}
	if size < int64(len(backupMagic)+trailerSize) {
		return RestoreStats{}, fmt.Errorf("wal: restore: %w: only %d bytes", errBadBackup, size)
	}
	if err := restoreSpace(opts, size); err != nil {
		return RestoreStats{}, err
	}
	if err := writeMarker(dir); err != nil {
		return RestoreStats{}, err
	}
	st, err := load(opts, r, size)
	if err == nil {
		err = syncTree(dir)
	}
	if err == nil {
		if err = os.Remove(filepath.Join(dir, restoringFile)); err == nil {
			err = syncDir(dir)
		}
	}
	if err != nil {
		return RestoreStats{}, errors.Join(err, clearDir(dir))
	}
	return st, nil
}

// load reads the header, feeds the body to Badger's Load while hashing
// it, and checks the trailer before Badger is closed.
func load(opts Options, r io.Reader, size int64) (RestoreStats, error) {
	head := make([]byte, len(backupMagic))
	if _, err := io.ReadFull(r, head); err != nil {
		return RestoreStats{}, fmt.Errorf("wal: restore: %w", err)
	}
	if string(head) != backupMagic {
		return RestoreStats{}, fmt.Errorf("wal: restore: %w: no hookd-backup header", errBadBackup)
	}
	bodyLen := size - int64(len(backupMagic)) - int64(trailerSize)
	db, err := badger.Open(badgerOptions(opts))
	if err != nil {
		return RestoreStats{}, fmt.Errorf("wal: restore: open %s: %w", opts.Dir, err)
	}
	h := sha256.New()
	lr := &io.LimitedReader{R: r, N: bodyLen}
	err = db.Load(io.TeeReader(lr, h), 8)
	var entries int64
	if err == nil && lr.N != 0 {
		err = fmt.Errorf("%w: the body ends %d bytes early", errBadBackup, lr.N)
	}
	if err == nil {
		tr := make([]byte, trailerSize)
		if _, err = io.ReadFull(r, tr); err == nil {
			entries, err = checkTrailer(tr, bodyLen, h)
		}
	}
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return RestoreStats{}, fmt.Errorf("wal: restore: %w", err)
	}
	return RestoreStats{Entries: entries}, nil
}

// emptyDir creates dir when absent and refuses it when it holds anything.
func emptyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("wal: restore: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("wal: restore: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("wal: restore: %s is not empty (%d entries, %s among them): "+
			"restore only into an empty data directory, with the server stopped", dir, len(ents), ents[0].Name())
	}
	return nil
}

// restoreSpace refuses to start without room for the restored store
// (about the backup's size) plus the floor of the free-space reserve.
func restoreSpace(opts Options, size int64) error {
	if opts.MinFreeBytes < 0 {
		return nil
	}
	free, err := opts.statfs(opts.Dir)
	if err != nil {
		return nil // not measurable here (space.go); Badger's errors will tell
	}
	need := uint64(size) + uint64(opts.MinFreeBytes)/2
	if free < need {
		return fmt.Errorf("wal: restore: %s: %s free, needs %s (the backup's size plus half of storage.min_free_bytes)",
			opts.Dir, mibs(free), mibs(need))
	}
	return nil
}

func writeMarker(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, restoringFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err == nil {
		err = errors.Join(f.Sync(), f.Close())
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("wal: restore: %w", err)
	}
	return nil
}

// syncTree fsyncs every file Badger left in dir, then dir: Badger wrote
// them without syncing (the store syncs itself, and Load bypasses it).
func syncTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		err = errors.Join(f.Sync(), f.Close())
		if err != nil {
			return fmt.Errorf("wal: restore: sync %s: %w", e.Name(), err)
		}
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// clearDir empties dir (which Restore found empty) after a failed restore.
func clearDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}
