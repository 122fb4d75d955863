package wal

import "errors"

// Errors returned by the store. Callers compare with errors.Is; Badger's own
// errors never cross this package's boundary.
var (
	// ErrNotFound: no such record for this tenant (another tenant's record
	// is reported the same way).
	ErrNotFound = errors.New("wal: not found")
	// ErrClosed: the store is closed or closing.
	ErrClosed = errors.New("wal: closed")
	// ErrFull: too many writes are waiting for the committer; retry later.
	ErrFull = errors.New("wal: write queue full")
	// ErrTooBig: one operation is larger than a single transaction may be.
	ErrTooBig = errors.New("wal: operation too large for one commit")
	// ErrConflict: the stored state is not the one the write expected:
	// the record already exists (a webhook's ID, an event type), a queue
	// cursor is not where the read started (OpenBatches), or a batch's
	// version moved (SaveBatch, SaveResult). Nothing was written.
	ErrConflict = errors.New("wal: conflict with the stored state")
)

// FailedError wraps the first commit or sync failure. Once it happened the
// store is fail-stop: every later write and read returns it.
type FailedError struct{ Err error }

func (e *FailedError) Error() string { return "wal: store failed: " + e.Err.Error() }
func (e *FailedError) Unwrap() error { return e.Err }
