package wal

import (
	"fmt"
	"reflect"
	"time"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
)

// A light load keeps its values in the LSM tree. Values of
// Options.ValueThreshold bytes or more normally go to Badger's value log,
// which keeps sustained ingest out of compactions; the price is a second
// file to sync at every commit. At a trickle (150 single events a second)
// every event is its own commit, and that second fdatasync, with the
// goroutine that runs it beside the first, was ~30% of the CPU an event
// cost. So while the values written come to less than
// Options.InlineBytesPerSec, values under inlineMax are written into the
// LSM tree with their keys, and such a commit syncs the memtable log only.
// What a light load adds to compactions is small: at 128 KiB/s, a 32 MiB
// memtable fills in four minutes. A burst goes to the value log after its
// first InlineBytesPerSec bytes, and the second after it too (the window
// before it was busy); one quiet second brings the trickle back.
//
// Where a value lives is Badger's choice per entry, from the entry's own
// threshold, which Badger takes from its options when the entry is added
// to a transaction unless already set. badger.Entry offers no setter, so
// the unexported field is written through its offset (entryThreshold);
// should Badger rename or retype it, the store logs so at Open and keeps
// every large value in the value log, as before (TestEntryThresholdField
// fails, naming the assumption). Reads need nothing: each stored entry
// says whether it holds its value or a pointer to it.

// inlineMax: values this large or larger go to the value log even at a
// trickle (they are not events of the usual size).
const inlineMax = 4096

// defaultInlineBytesPerSec is Options.InlineBytesPerSec's default.
const defaultInlineBytesPerSec = 128 << 10

// entryThreshold is the offset of badger.Entry's valThreshold (an int64),
// or an error naming what Badger changed.
var entryThreshold, entryThresholdErr = func() (uintptr, error) {
	f, ok := reflect.TypeFor[badger.Entry]().FieldByName("valThreshold")
	if !ok || f.Type.Kind() != reflect.Int64 {
		return 0, fmt.Errorf("wal: badger.Entry has no int64 field valThreshold (checked against Badger v4.9.6): " +
			"a light load's values go to the value log too")
	}
	return f.Offset, nil
}()

// keepInLSM makes Badger keep e's value in the LSM tree whatever its
// options' threshold: the entry's own threshold is set above the value's
// size before the entry reaches a transaction.
func keepInLSM(e *badger.Entry) {
	*(*int64)(unsafe.Add(unsafe.Pointer(e), entryThreshold)) = int64(len(e.Value)) + 1
}

// inliner decides, at each commit group, how many bytes of values the
// group may keep in the LSM tree. It runs on the committer only.
type inliner struct {
	rate  int64            // bytes a second (0: never inline)
	now   func() time.Time // monotonic clock
	start time.Time        // of the current one-second window
	cur   int64            // bytes of large values written in this window
	prev  int64            // ... in the window before (0 if it was not the one just before)
}

// budget is how many bytes of values the next group may keep in the LSM
// tree: none while the window before was busy, else what is left of this
// window's allowance (the allowance also bounds one group's extra size).
func (in *inliner) budget() int64 {
	if in.rate <= 0 {
		return 0
	}
	now := in.now()
	if d := now.Sub(in.start); d >= time.Second || d < 0 {
		if d < 2*time.Second && d >= 0 {
			in.prev = in.cur
		} else {
			in.prev = 0
		}
		in.cur, in.start = 0, now
	}
	if in.prev >= in.rate {
		return 0
	}
	return max(in.rate-in.cur, 0)
}

// wrote counts a written group's large values (kept in the LSM tree or
// not) in the current window.
func (in *inliner) wrote(n int64) { in.cur += n }

// newInliner is the inliner of a store with opts (defaults set).
func newInliner(opts Options) inliner {
	in := inliner{rate: max(opts.InlineBytesPerSec, 0), now: time.Now}
	if in.rate > 0 && entryThresholdErr != nil {
		opts.Logger.Warn(entryThresholdErr.Error())
		in.rate = 0
	}
	return in
}
