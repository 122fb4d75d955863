package wal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// TestBackupRestore takes a backup while appends go on and restores it
// into a fresh directory: every event acknowledged before the backup
// began is there, with the webhook and its queue, and the restored store
// serves and takes writes.
func TestBackupRestore(t *testing.T) {
	s := openTest(t, "")
	w := &Webhook{ID: s.NewWebhookID(), Tenant: "acme", URL: "https://example.com/h", IsActive: true}
	if err := s.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 600) // past the value threshold: in the value log
	var acked []ID
	for i := 0; i < 300; i++ {
		res, err := s.Append("acme", []EventInput{ev("a.b", fmt.Sprint("k", i), `{"i":`+fmt.Sprint(i)+`,"s":"`+big[:i%2*600]+`"}`)})
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, res.IDs...)
	}

	// Appends go on while the backup is written.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var during atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Append("acme", []EventInput{ev("a.b", "", `{"during":true}`)}); err != nil {
				t.Error(err)
				return
			}
			during.Add(1)
		}
	}()
	b, err := s.Backup()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(); !errors.Is(err, ErrBackupRunning) {
		t.Errorf("second backup = %v, want ErrBackupRunning", err)
	}
	var buf bytes.Buffer
	st, err := b.Stream(&buf)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes != int64(buf.Len()) || st.Entries < int64(len(acked)) {
		t.Errorf("stats = %+v, file %d bytes", st, buf.Len())
	}
	t.Logf("backup: %d bytes, %d entries; %d appends meanwhile", st.Bytes, st.Entries, during.Load())
	c := NewBackupChecker()
	c.Write(buf.Bytes())
	if n, err := c.Check(); err != nil || n != st.Entries {
		t.Fatalf("check = %d, %v; want %d", n, err, st.Entries)
	}
	if b2, err := s.Backup(); err != nil {
		t.Errorf("backup after the first ended: %v", err)
	} else {
		b2.Close()
	}

	dir := filepath.Join(t.TempDir(), "restored")
	rst, err := Restore(Options{Dir: dir}, bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if rst.Entries != st.Entries {
		t.Errorf("restored %d entries, want %d", rst.Entries, st.Entries)
	}
	if _, err := os.Stat(filepath.Join(dir, restoringFile)); !os.IsNotExist(err) {
		t.Errorf("marker left behind: %v", err)
	}
	r := openTest(t, dir)
	for i, id := range acked {
		e, err := r.GetEvent("acme", id)
		if err != nil {
			t.Fatalf("event %d %s: %v", i, id, err)
		}
		if want := `{"i":` + fmt.Sprint(i) + `,`; !strings.HasPrefix(string(e.Data), want) {
			t.Errorf("event %d = %s", i, e.Data)
		}
	}
	if got, err := r.GetWebhook("acme", w.ID); err != nil || got.URL != w.URL {
		t.Errorf("webhook = %+v, %v", got, err)
	}
	if n, err := r.QueueDepth(w.ID); err != nil || n < len(acked) {
		t.Errorf("queue depth = %d, %v; want >= %d", n, err, len(acked))
	}
	if id, err := r.EventByKey("acme", "k7"); err != nil || id != acked[7] {
		t.Errorf("idempotency key = %s, %v; want %s", id, err, acked[7])
	}
	res, err := r.Append("acme", []EventInput{ev("a.b", "", `{"after":true}`)})
	if err != nil || compareID(res.IDs[0], acked[len(acked)-1]) <= 0 {
		t.Errorf("append after restore = %v, %v", res.IDs, err)
	}
}

// TestBackupFormat: the body is Badger's backup format (KVLists that
// proto decodes), and a cut or altered file fails the check.
func TestBackupFormat(t *testing.T) {
	s := openTest(t, "")
	for i := 0; i < 50; i++ {
		if _, err := s.Append("acme", []EventInput{ev("a.b", "", `{"i":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := s.Backup()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	st, err := b.Stream(&buf)
	if err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	body := file[len(backupMagic) : len(file)-trailerSize]
	var n int64
	for len(body) > 0 {
		sz := int(uint64(body[0]) | uint64(body[1])<<8 | uint64(body[2])<<16 | uint64(body[3])<<24)
		var list pb.KVList
		if err := proto.Unmarshal(body[8:8+sz], &list); err != nil {
			t.Fatal(err)
		}
		for _, kv := range list.Kv {
			if len(kv.Key) == 0 || kv.Version == 0 || len(kv.UserMeta) != 1 {
				t.Errorf("kv = %v", kv)
			}
		}
		n += int64(len(list.Kv))
		body = body[8+sz:]
	}
	if n != st.Entries {
		t.Errorf("decoded %d entries, want %d", n, st.Entries)
	}

	bad := map[string][]byte{
		"empty":        nil,
		"header only":  file[:len(backupMagic)],
		"no trailer":   file[:len(file)-trailerSize],
		"cut trailer":  file[:len(file)-1],
		"one byte off": append(append([]byte(nil), file[:40]...), append([]byte{file[40] ^ 1}, file[41:]...)...),
		"not a backup": append([]byte("hookd-backup 2\n"), file[len(backupMagic):]...),
	}
	for name, f := range bad {
		c := NewBackupChecker()
		for len(f) > 0 { // in uneven pieces, as a network delivers it
			k := min(len(f), 7)
			c.Write(f[:k])
			f = f[k:]
		}
		if _, err := c.Check(); !errors.Is(err, errBadBackup) {
			t.Errorf("%s: check = %v, want errBadBackup", name, err)
		}
		dir := t.TempDir()
		if _, err := Restore(Options{Dir: dir}, bytes.NewReader(bad[name]), int64(len(bad[name]))); err == nil {
			t.Errorf("%s: restore succeeded", name)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%s: failed restore left %d files", name, len(ents))
		}
	}
}

// TestRestoreRefuses a non-empty directory, and Open refuses one whose
// restore did not finish.
func TestRestoreRefuses(t *testing.T) {
	s := openTest(t, "")
	b, err := s.Backup()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := b.Stream(&buf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o600)
	if _, err := Restore(Options{Dir: dir}, bytes.NewReader(buf.Bytes()), int64(buf.Len())); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore into a non-empty dir = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err != nil {
		t.Errorf("the non-empty dir was touched: %v", err)
	}
	half := t.TempDir()
	os.WriteFile(filepath.Join(half, restoringFile), nil, 0o600)
	if _, err := Open(Options{Dir: half}); err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Errorf("open of an unfinished restore = %v", err)
	}
}

// TestBackupStopsOnClose: Close does not wait for a whole backup; the
// backup stops at its next record with ErrClosed.
func TestBackupStopsOnClose(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		evs := make([]EventInput, 100)
		for k := range evs {
			evs[k] = ev("a.b", "", fmt.Sprintf(`{"s":"%x"}`, randBytes(1000))) // 2 KB that do not compress
		}
		if _, err := s.Append("acme", evs); err != nil {
			t.Fatal(err)
		}
	}
	b, err := s.Backup()
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	w := &blockingWriter{first: make(chan struct{}), release: make(chan struct{})}
	go func() {
		_, err := b.Stream(w)
		closed <- err
	}()
	<-w.first // the backup is under way, held in its first write
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	<-s.gcStop // Close has begun: the backup must now stop, not finish
	close(w.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-closed; !errors.Is(err, ErrClosed) {
		t.Errorf("backup during close = %v, want ErrClosed", err)
	}
	if _, err := s.Backup(); !errors.Is(err, ErrClosed) {
		t.Errorf("backup after close = %v", err)
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// blockingWriter holds the first write that carries data until release.
type blockingWriter struct {
	first, release chan struct{}
	once           sync.Once
	n              int
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.n > len(backupMagic) {
		w.once.Do(func() { close(w.first); <-w.release })
	}
	return len(p), nil
}
