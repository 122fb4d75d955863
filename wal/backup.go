package wal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/encoding/protowire"
)

// Online backup. Store.Backup takes a snapshot (one Badger read
// transaction) while the store serves; Backup.Stream streams it to any
// writer in records of about recordBytes, so memory stays bounded whatever
// the store's size, and ingest and delivery go on (they never wait for
// the snapshot; Badger keeps what it sees until it is released).
//
// Badger's own DB.Backup is not used: its Stream reads with several
// goroutines into a channel of up to 32 buffers of 16 MiB and sends
// batches of up to 100 MiB, hundreds of MiB when the reader (a network
// client) is slower than the scan, and it skips a key whose value it
// cannot read with only a log line. This one reads on one goroutine and
// fails on any error. Its body is in Badger's backup format, the one
// badger.DB.Load reads (and Restore uses).
//
// A backup file is:
//
//	header   "hookd-backup 1\n"
//	body     records: uint64 little-endian length, then a protobuf
//	         badger KVList of the snapshot's live (not deleted, not
//	         expired) keys with their values, versions and expiry
//	trailer  "hookd-backup-end" | body length (uint64 LE) |
//	         entries (uint64 LE) | SHA-256 of the body
//
// The trailer is what tells a complete backup from a cut one: a stream
// that ends early (the server stopped, the connection broke) has none,
// and BackupChecker and Restore refuse it.

const (
	backupMagic    = "hookd-backup 1\n"
	backupEndMagic = "hookd-backup-end"
	trailerSize    = len(backupEndMagic) + 8 + 8 + sha256.Size
	// recordBytes: a record is written once its KVList reaches this size.
	recordBytes = 1 << 20
)

// ErrBackupRunning: a backup is already being written; one at a time.
var ErrBackupRunning = errors.New("wal: a backup is already running")

// errBadBackup is wrapped by every error about a backup file's contents.
var errBadBackup = errors.New("not a complete hookd backup")

// backups tracks the backup being written so that Close waits for it.
// A backup registers under Store.mu while the store is open, so Close
// (which sets closed under the same lock) never waits before it adds.
type backups struct {
	running atomic.Bool
	wg      sync.WaitGroup
}

func (b *backups) wait() { b.wg.Wait() }

// Backup is a snapshot of the store being written out. Write it with
// Stream; Close releases it without writing (Stream releases it too).
type Backup struct {
	s       *Store
	txn     *badger.Txn
	release sync.Once
}

// BackupStats says what Stream wrote.
type BackupStats struct {
	Bytes   int64 // the whole file
	Entries int64 // keys written
}

// Backup takes a snapshot of the whole store now: every write
// acknowledged before it is in it. It refuses a failed or closed store and
// a second backup while one is running (ErrBackupRunning).
func (s *Store) Backup() (*Backup, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if !s.backups.running.CompareAndSwap(false, true) {
		return nil, ErrBackupRunning
	}
	s.backups.wg.Add(1)
	return &Backup{s: s, txn: s.db.NewTransaction(false)}, nil
}

// Close releases the snapshot. It is safe to call more than once, and
// after Stream.
func (b *Backup) Close() {
	b.release.Do(func() {
		b.txn.Discard()
		b.s.backups.running.Store(false)
		b.s.backups.wg.Done()
	})
}

// Stream writes the backup file to w and releases the snapshot. It
// stops with ErrClosed when the store starts closing; on any error what
// was written has no trailer, so it is recognisably incomplete.
func (b *Backup) Stream(w io.Writer) (BackupStats, error) {
	defer b.Close()
	var st BackupStats
	cw := &countWriter{w: w}
	if _, err := io.WriteString(cw, backupMagic); err != nil {
		return st, fmt.Errorf("wal: backup: %w", err)
	}
	h := sha256.New()
	body := io.MultiWriter(cw, h)
	bodyStart := cw.n
	it := b.txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
	defer it.Close()
	rec := make([]byte, 8, recordBytes+64<<10)
	flush := func() error {
		if len(rec) == 8 {
			return nil
		}
		binary.LittleEndian.PutUint64(rec[:8], uint64(len(rec)-8))
		_, err := body.Write(rec)
		rec = rec[:8]
		return err
	}
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		err := item.Value(func(v []byte) error {
			rec = appendKV(rec, item.Key(), v, item.UserMeta(), item.Version(), item.ExpiresAt())
			return nil
		})
		if err != nil {
			return st, fmt.Errorf("wal: backup: read %q: %w", item.Key(), err)
		}
		st.Entries++
		if len(rec) < recordBytes {
			continue
		}
		select {
		case <-b.s.gcStop:
			return st, fmt.Errorf("wal: backup: %w", ErrClosed)
		default:
		}
		if err := flush(); err != nil {
			return st, fmt.Errorf("wal: backup: %w", err)
		}
		b.s.reads.Add(1) // what it read is trimmed as it goes (trimMaps)
	}
	if err := flush(); err != nil {
		return st, fmt.Errorf("wal: backup: %w", err)
	}
	tr := make([]byte, 0, trailerSize)
	tr = append(tr, backupEndMagic...)
	tr = binary.LittleEndian.AppendUint64(tr, uint64(cw.n-bodyStart))
	tr = binary.LittleEndian.AppendUint64(tr, uint64(st.Entries))
	tr = h.Sum(tr)
	if _, err := cw.Write(tr); err != nil {
		return st, fmt.Errorf("wal: backup: %w", err)
	}
	st.Bytes = cw.n
	return st, nil
}

// appendKV appends one badger KV message as field 1 of a KVList (the
// fields of badger's pb.KV: key 1, value 2, user_meta 3, version 4,
// expires_at 5). Meta stays 0: a live value, written anew by Load.
func appendKV(b, key, val []byte, userMeta byte, version, expiresAt uint64) []byte {
	n := protowire.SizeTag(1) + protowire.SizeBytes(len(key)) +
		protowire.SizeTag(3) + protowire.SizeBytes(1)
	if len(val) > 0 {
		n += protowire.SizeTag(2) + protowire.SizeBytes(len(val))
	}
	if version != 0 {
		n += protowire.SizeTag(4) + protowire.SizeVarint(version)
	}
	if expiresAt != 0 {
		n += protowire.SizeTag(5) + protowire.SizeVarint(expiresAt)
	}
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, key)
	if len(val) > 0 {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, val)
	}
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte{userMeta})
	if version != 0 {
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, version)
	}
	if expiresAt != 0 {
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, expiresAt)
	}
	return b
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// BackupChecker checks a backup file as it is written through it (the
// CLI writes the downloaded stream through one): Write never fails, and
// Check says whether what went through is one complete backup.
type BackupChecker struct {
	n    int64  // bytes seen
	head []byte // the header, while it comes in
	tail []byte // the last trailerSize bytes seen (held back from h)
	h    hash.Hash
	body int64 // bytes hashed
}

// NewBackupChecker returns a checker for one backup file.
func NewBackupChecker() *BackupChecker { return &BackupChecker{h: sha256.New()} }

func (c *BackupChecker) Write(p []byte) (int, error) {
	n := len(p)
	c.n += int64(n)
	if k := len(backupMagic) - len(c.head); k > 0 {
		k = min(k, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	c.tail = append(c.tail, p...)
	if over := len(c.tail) - trailerSize; over > 0 {
		c.h.Write(c.tail[:over])
		c.body += int64(over)
		c.tail = append(c.tail[:0], c.tail[over:]...)
	}
	return n, nil
}

// Check reports whether the bytes written form a complete backup; it
// returns the number of entries the trailer records.
func (c *BackupChecker) Check() (entries int64, err error) {
	if string(c.head) != backupMagic {
		return 0, fmt.Errorf("wal: %w: no hookd-backup header", errBadBackup)
	}
	if len(c.tail) < trailerSize {
		return 0, fmt.Errorf("wal: %w: it ends after %d bytes, before its trailer", errBadBackup, c.n)
	}
	return checkTrailer(c.tail, c.body, c.h)
}

func checkTrailer(tr []byte, body int64, h hash.Hash) (int64, error) {
	if string(tr[:len(backupEndMagic)]) != backupEndMagic {
		return 0, fmt.Errorf("wal: %w: it is cut short (no trailer)", errBadBackup)
	}
	tr = tr[len(backupEndMagic):]
	if n := int64(binary.LittleEndian.Uint64(tr)); n != body {
		return 0, fmt.Errorf("wal: %w: body of %d bytes, the trailer says %d", errBadBackup, body, n)
	}
	entries := int64(binary.LittleEndian.Uint64(tr[8:]))
	if !bytes.Equal(h.Sum(nil), tr[16:]) {
		return 0, fmt.Errorf("wal: %w: checksum mismatch", errBadBackup)
	}
	return entries, nil
}
