package wal

import (
	"encoding/binary"
	"encoding/json"
	"time"
)

// Open batch records are stored in a compact binary form; ended ones stay
// JSON (recordjson.go). The reason is where each lands in Badger. A
// record under storage.value_threshold is kept in the LSM tree itself,
// one over it in the value log. A size-1 pending record is ~226 bytes of
// JSON, so it sat in the LSM tree and was flushed and compacted once more
// before the result that replaced it was dropped; it was over a third of
// the bytes an event put into the tree. Its compact form is ~55 bytes
// (TestBatchCodecSize).
// An ended record lives until retention, so in the tree it would be
// rewritten at every level; as JSON (~330 bytes) it goes to the value log
// and the tree keeps a pointer. Readers tell the two forms apart by the
// first byte: JSON records start with '{'.
const batchCodec = 0x01

// Which optional fields a compact record holds.
const (
	hasNextAttemptAt = 1 << iota
	hasLastAttemptAt
	hasLastStatus
	hasLastCode
	hasLastAttemptID
	hasDeliveredAt
	hasNextAttemptID
	hasNextTrigger
	hasRefs
	hasFlags = 1<<iota - 1
)

// batchWords are the strings a record's status, last attempt status and
// trigger usually hold, stored as their index; anything else is stored
// after a 0.
var batchWords = [...]string{"", BatchPending, BatchRetrying, BatchDelivered, BatchExpired, BatchCancelled,
	AttemptScheduled, AttemptSucceeded, AttemptFailed, TriggerAuto, TriggerManual, TriggerSendExpired}

// encodeBatch is a batch's stored form: compact while it is open, JSON
// once it has ended or when a field does not fit the compact form (no
// events, a time outside 1679..2261).
func encodeBatch(b *Batch) ([]byte, error) {
	if b.Open() {
		if v, ok := compactBatch(b); ok {
			return v, nil
		}
	}
	return marshalBatch(b)
}

// compactBatch encodes b in the compact form, or reports that it cannot.
func compactBatch(b *Batch) ([]byte, bool) {
	if len(b.Events) == 0 {
		return nil, false
	}
	var flags uint64
	for _, f := range []struct {
		on   bool
		flag uint64
	}{
		{!b.NextAttemptAt.IsZero(), hasNextAttemptAt}, {!b.LastAttemptAt.IsZero(), hasLastAttemptAt},
		{b.LastStatus != "", hasLastStatus}, {b.LastCode != 0, hasLastCode},
		{!b.LastAttemptID.IsZero(), hasLastAttemptID}, {!b.DeliveredAt.IsZero(), hasDeliveredAt},
		{!b.NextAttemptID.IsZero(), hasNextAttemptID}, {b.NextTrigger != "", hasNextTrigger},
		{len(b.Refs) > 0, hasRefs},
	} {
		if f.on {
			flags |= f.flag
		}
	}
	out := make([]byte, 0, 48+24*len(b.Events))
	out = append(out, batchCodec)
	out = binary.AppendUvarint(out, flags)
	out = appendWord(out, b.Status)
	out = binary.AppendUvarint(out, uint64(len(b.Events)))
	for _, e := range b.Events {
		out = append(out, e.ID[:]...)
		out = appendString(out, e.Type)
	}
	if flags&hasRefs != 0 {
		out = binary.AppendUvarint(out, uint64(len(b.Refs)))
		for _, r := range b.Refs {
			out = appendString(out, r.Name)
			out = appendString(out, r.Value)
		}
	}
	out = binary.AppendVarint(out, int64(b.Attempts))
	out = binary.AppendVarint(out, int64(b.MaxAttempts))
	ok := true
	out = appendNano(out, b.CreatedAt, &ok)
	if flags&hasNextAttemptAt != 0 {
		out = appendNano(out, b.NextAttemptAt, &ok)
	}
	if flags&hasLastAttemptAt != 0 {
		out = appendNano(out, b.LastAttemptAt, &ok)
	}
	if flags&hasLastStatus != 0 {
		out = appendWord(out, b.LastStatus)
	}
	if flags&hasLastCode != 0 {
		out = binary.AppendVarint(out, int64(b.LastCode))
	}
	if flags&hasLastAttemptID != 0 {
		out = append(out, b.LastAttemptID[:]...)
	}
	if flags&hasDeliveredAt != 0 {
		out = appendNano(out, b.DeliveredAt, &ok)
	}
	if flags&hasNextAttemptID != 0 {
		out = append(out, b.NextAttemptID[:]...)
	}
	if flags&hasNextTrigger != 0 {
		out = appendWord(out, b.NextTrigger)
	}
	out = binary.AppendUvarint(out, b.Version)
	return out, ok
}

// appendNano appends t as nanoseconds since 1970, clearing ok when t is
// outside the years (1678..2262) where that is defined.
func appendNano(out []byte, t time.Time, ok *bool) []byte {
	if y := t.Year(); y < 1679 || y > 2261 {
		*ok = false
	}
	return binary.AppendVarint(out, t.UnixNano())
}

func appendWord(out []byte, s string) []byte {
	for i := 1; i < len(batchWords); i++ {
		if batchWords[i] == s {
			return append(out, byte(i))
		}
	}
	return appendString(append(out, 0), s)
}

// unmarshalBatch reads a stored batch record of either form into b (whose
// ID, WebhookID and Tenant come from the key). It never panics and
// allocates at most in proportion to v.
func unmarshalBatch(v []byte, b *Batch) error {
	if len(v) == 0 {
		return errCorrupt
	}
	if v[0] != batchCodec {
		return json.Unmarshal(v, b)
	}
	d := decoder{b: v[1:]}
	flags := d.uvarint()
	if flags&^hasFlags != 0 {
		return errCorrupt
	}
	b.Status = d.word()
	n := d.uvarint()
	if n == 0 || n > uint64(len(d.b)/17) { // an event takes at least 17 bytes
		return errCorrupt
	}
	b.Events = make([]BatchEvent, n)
	for i := range b.Events {
		b.Events[i].ID = d.id()
		b.Events[i].Type = d.str()
	}
	b.Refs = nil
	if flags&hasRefs != 0 {
		n := d.uvarint()
		if n == 0 || n > uint64(len(d.b)/2) { // a ref takes at least 2 bytes
			return errCorrupt
		}
		b.Refs = make([]Ref, n)
		for i := range b.Refs {
			b.Refs[i].Name = d.str()
			b.Refs[i].Value = d.str()
		}
	}
	b.Attempts = int(d.varint())
	b.MaxAttempts = int(d.varint())
	b.CreatedAt = d.time()
	b.NextAttemptAt, b.LastAttemptAt, b.DeliveredAt = time.Time{}, time.Time{}, time.Time{}
	b.LastStatus, b.LastCode, b.LastAttemptID = "", 0, ID{}
	b.NextAttemptID, b.NextTrigger = ID{}, ""
	if flags&hasNextAttemptAt != 0 {
		b.NextAttemptAt = d.time()
	}
	if flags&hasLastAttemptAt != 0 {
		b.LastAttemptAt = d.time()
	}
	if flags&hasLastStatus != 0 {
		b.LastStatus = d.word()
	}
	if flags&hasLastCode != 0 {
		b.LastCode = int(d.varint())
	}
	if flags&hasLastAttemptID != 0 {
		b.LastAttemptID = d.id()
	}
	if flags&hasDeliveredAt != 0 {
		b.DeliveredAt = d.time()
	}
	if flags&hasNextAttemptID != 0 {
		b.NextAttemptID = d.id()
	}
	if flags&hasNextTrigger != 0 {
		b.NextTrigger = d.word()
	}
	b.Version = d.uvarint()
	if d.err != nil || len(d.b) != 0 {
		return errCorrupt
	}
	return nil
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) id() (id ID) {
	if d.err != nil {
		return id
	}
	if len(d.b) < len(id) {
		d.err = errCorrupt
		return id
	}
	copy(id[:], d.b)
	d.b = d.b[len(id):]
	return id
}

func (d *decoder) time() time.Time {
	ns := d.varint()
	if d.err != nil {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (d *decoder) word() string {
	if d.err != nil {
		return ""
	}
	if len(d.b) == 0 {
		d.err = errCorrupt
		return ""
	}
	i := d.b[0]
	d.b = d.b[1:]
	if i == 0 {
		return d.str()
	}
	if int(i) >= len(batchWords) {
		d.err = errCorrupt
		return ""
	}
	return batchWords[i]
}
