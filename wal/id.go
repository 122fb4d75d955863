package wal

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// ID is a ULID: 48 bits of Unix milliseconds then 80 bits that are random
// for the first ID of a millisecond and incremented after it, so IDs made
// by one generator sort in the order they were made. Its text form is a
// type prefix ("evt_", "wh_", ...) and 26 Crockford base32 characters.
type ID [16]byte

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var crockfordDec [256]byte

func init() {
	for i := range crockfordDec {
		crockfordDec[i] = 0xFF
	}
	for i := 0; i < len(crockford); i++ {
		crockfordDec[crockford[i]] = byte(i)
		crockfordDec[crockford[i]|0x20] = byte(i) // lower case
	}
}

// Time is the millisecond the ID was made in.
func (id ID) Time() time.Time {
	ms := uint64(id[0])<<40 | uint64(id[1])<<32 | uint64(id[2])<<24 | uint64(id[3])<<16 | uint64(id[4])<<8 | uint64(id[5])
	return time.UnixMilli(int64(ms)).UTC()
}

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// Text renders the ID with prefix, e.g. id.Text("evt_").
func (id ID) Text(prefix string) string {
	b := make([]byte, len(prefix)+26)
	copy(b, prefix)
	encodeULID(b[len(prefix):], id)
	return string(b)
}

// AppendText appends id as Text(prefix) does, without allocating a string.
func (id ID) AppendText(dst []byte, prefix string) []byte {
	dst = append(dst, prefix...)
	n := len(dst)
	dst = append(dst, make([]byte, 26)...)
	encodeULID(dst[n:], id)
	return dst
}

func encodeULID(dst []byte, id ID) {
	// 128 bits → 26 chars; the first char carries the top 3 bits.
	hi := binary.BigEndian.Uint64(id[:8])
	lo := binary.BigEndian.Uint64(id[8:])
	for i := 25; i >= 0; i-- {
		dst[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
}

var errBadID = errors.New("wal: malformed id")

// ParseID parses prefix + 26 base32 characters. Anything else is an error,
// which callers report as not found.
func ParseID(prefix, s string) (ID, error) {
	var id ID
	if len(s) != len(prefix)+26 || s[:len(prefix)] != prefix {
		return id, errBadID
	}
	s = s[len(prefix):]
	if crockfordDec[s[0]] > 7 {
		return id, errBadID // overflows 128 bits
	}
	var hi, lo uint64
	for i := 0; i < 26; i++ {
		v := crockfordDec[s[i]]
		if v == 0xFF {
			return id, errBadID
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(v)
	}
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id, nil
}

// IDGen makes monotonic IDs. It is safe for concurrent use.
type IDGen struct {
	mu   sync.Mutex
	last ID
	ms   int64
}

// New returns an ID greater than every ID this generator returned before.
func (g *IDGen) New(now time.Time) ID {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := now.UnixMilli()
	if ms <= g.ms {
		// Same (or earlier) millisecond: increment the 80-bit tail.
		id := g.last
		for i := 15; i >= 6; i-- {
			id[i]++
			if id[i] != 0 {
				break
			}
		}
		g.last = id
		return id
	}
	var id ID
	id[0], id[1], id[2], id[3], id[4], id[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	_, _ = rand.Read(id[6:])
	id[6] &= 0x7F // leave room to increment within the millisecond
	g.ms, g.last = ms, id
	return id
}

// MarshalText stores an ID as its 26 characters, without a type prefix.
func (id ID) MarshalText() ([]byte, error) {
	b := make([]byte, 26)
	encodeULID(b, id)
	return b, nil
}

// UnmarshalText reads what MarshalText wrote.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID("", string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
