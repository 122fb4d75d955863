package wal

import (
	"encoding/binary"
	"errors"
	"sort"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Event is one stored event.
type Event struct {
	ID        ID
	Tenant    string
	Type      string
	Key       string // idempotency key, "" when none was given
	Refs      []Ref  // sorted by Name
	Data      []byte // raw JSON
	CreatedAt time.Time
}

// Ref is one named reference of an event (orderRef=A1).
type Ref struct{ Name, Value string }

// compressAbove is the data size from which payloads are stored zstd
// compressed; a 300-byte event does not compress (DESIGN.md).
const compressAbove = 1024

// maxDecoded bounds what a stored record may claim to decompress to.
const maxDecoded = 64 << 20

const (
	codecVersion   = 1
	flagCompressed = 1
)

var (
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxDecoded))
)

var errCorrupt = errors.New("wal: corrupt record")

// encodeEvent appends the stored form of e (without tenant and ID, which are
// in the key) to dst.
func encodeEvent(dst []byte, e *Event) []byte {
	flags := byte(0)
	data := e.Data
	if len(data) > compressAbove {
		c := zenc.EncodeAll(data, nil)
		if len(c) < len(data) {
			data, flags = c, flagCompressed
		}
	}
	dst = append(dst, codecVersion, flags)
	dst = binary.AppendUvarint(dst, uint64(e.CreatedAt.UnixMilli()))
	dst = appendString(dst, e.Type)
	dst = appendString(dst, e.Key)
	dst = binary.AppendUvarint(dst, uint64(len(e.Refs)))
	for _, r := range e.Refs {
		dst = appendString(dst, r.Name)
		dst = appendString(dst, r.Value)
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Data)))
	return append(dst, data...)
}

// encodedEventSize is len(encodeEvent(nil, e)) for an event of these
// fields created at ms (Unix milliseconds) whose data is stored as it is;
// data stored compressed takes less. Append sizes its buffer with it: a
// buffer grown by append while encoding a request's events was ~11% of
// the bytes hookd allocated delivering single events (bench/BASELINE.md).
func encodedEventSize(typ, key string, refs []Ref, data int, ms int64) int {
	n := 2 + uvarintLen(uint64(ms)) + stringSize(typ) + stringSize(key) + uvarintLen(uint64(len(refs))) + uvarintLen(uint64(data)) + data
	for _, r := range refs {
		n += stringSize(r.Name) + stringSize(r.Value)
	}
	return n
}

func stringSize(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

// uvarintLen is the length of binary.AppendUvarint(nil, x).
func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decodeEvent parses a stored record. It never panics and never allocates
// more than the record's own size plus its declared (bounded) data size.
func decodeEvent(b []byte, e *Event) error {
	if len(b) < 2 || b[0] != codecVersion || b[1]&^flagCompressed != 0 {
		return errCorrupt
	}
	flags := b[1]
	d := decoder{b: b[2:]}
	ms := d.uvarint()
	e.Type = d.str()
	e.Key = d.str()
	n := d.uvarint()
	if n > uint64(len(d.b)/2) { // each ref takes at least 2 bytes
		return errCorrupt
	}
	e.Refs = nil
	if n > 0 {
		e.Refs = make([]Ref, n)
		for i := range e.Refs {
			e.Refs[i].Name = d.str()
			e.Refs[i].Value = d.str()
		}
	}
	size := d.uvarint()
	if d.err != nil || ms > 1<<53 || size > maxDecoded {
		return errCorrupt
	}
	e.CreatedAt = time.UnixMilli(int64(ms)).UTC()
	if flags&flagCompressed == 0 {
		if uint64(len(d.b)) != size {
			return errCorrupt
		}
		e.Data = append([]byte(nil), d.b...)
		return nil
	}
	out, err := zdec.DecodeAll(d.b, make([]byte, 0, size))
	if err != nil || uint64(len(out)) != size {
		return errCorrupt
	}
	e.Data = out
	return nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// SortRefs orders refs by name, the form the codec stores.
func SortRefs(refs []Ref) {
	sort.Slice(refs, func(i, j int) bool { return refs[i].Name < refs[j].Name })
}
