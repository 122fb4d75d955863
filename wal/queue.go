package wal

import (
	"encoding/binary"

	"github.com/dgraph-io/badger/v4"
)

// Queue records. One append fans out to a webhook as one record, not one
// entry per event: q/<webhook-id><last-event-id> → the event IDs it
// queued. The IDs of one append are made in one millisecond, one after
// the other, so a record is usually a bitmap over a short run of IDs
// (bitmap form); when they are not (another writer took IDs between
// them, a millisecond turned), it lists them (list form). Keyed by the
// last ID, the first record holding anything after a cursor is found
// with one forward seek. A record of one event (a single-event publish)
// holds only its form byte: the ID is the key's (one form).
const (
	queueBitmap = 1 // first ID, span, bitmap of span bits from first
	queueList   = 2 // count, then each ID
	queueOne    = 3 // nothing more: the one ID is the key's last
)

// maxBitmapSpan bounds a bitmap record; a wider run is listed instead.
const maxBitmapSpan = 1 << 16

// encodeQueue encodes ascending ids (at least one).
func encodeQueue(ids []ID) []byte {
	if len(ids) == 1 {
		return []byte{queueOne}
	}
	first, last := ids[0], ids[len(ids)-1]
	if span, ok := tailDiff(first, last); ok && span < maxBitmapSpan && span <= 8*uint64(len(ids))+64 {
		n := span + 1
		b := make([]byte, 0, 1+16+binary.MaxVarintLen64+int(n+7)/8)
		b = append(b, queueBitmap)
		b = append(b, first[:]...)
		b = binary.AppendUvarint(b, n)
		bm := len(b)
		b = append(b, make([]byte, (n+7)/8)...)
		for _, id := range ids {
			d, _ := tailDiff(first, id)
			b[bm+int(d/8)] |= 1 << (d % 8)
		}
		return b
	}
	b := make([]byte, 0, 1+binary.MaxVarintLen64+16*len(ids))
	b = append(b, queueList)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = append(b, id[:]...)
	}
	return b
}

// decodeQueue calls fn with each ID of a record whose key ends in last,
// ascending, until fn returns false. A malformed record is errCorrupt.
func decodeQueue(v []byte, last ID, fn func(ID) bool) error {
	if len(v) == 0 {
		return errCorrupt
	}
	switch v[0] {
	case queueOne:
		if len(v) != 1 {
			return errCorrupt
		}
		fn(last)
		return nil
	case queueBitmap:
		if len(v) < 17 {
			return errCorrupt
		}
		var first ID
		copy(first[:], v[1:17])
		n, k := binary.Uvarint(v[17:])
		if k <= 0 || n == 0 || n > maxBitmapSpan {
			return errCorrupt
		}
		bm := v[17+k:]
		if uint64(len(bm)) != (n+7)/8 {
			return errCorrupt
		}
		for d := uint64(0); d < n; d++ {
			if bm[d/8]&(1<<(d%8)) != 0 && !fn(addTail(first, d)) {
				return nil
			}
		}
		return nil
	case queueList:
		n, k := binary.Uvarint(v[1:])
		if k <= 0 || uint64(len(v)-1-k) != 16*n {
			return errCorrupt
		}
		rest := v[1+k:]
		for i := uint64(0); i < n; i++ {
			var id ID
			copy(id[:], rest[16*i:])
			if !fn(id) {
				return nil
			}
		}
		return nil
	}
	return errCorrupt
}

// tailDiff returns b − a when both are of one millisecond and the
// difference stays within the low 64 bits (no carry), as IDGen makes them.
func tailDiff(a, b ID) (uint64, bool) {
	if [8]byte(a[:8]) != [8]byte(b[:8]) {
		return 0, false
	}
	la, lb := binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:])
	if lb < la {
		return 0, false
	}
	return lb - la, true
}

// keyID is the ID that ends key k.
func keyID(k []byte) (id ID) {
	copy(id[:], k[len(k)-len(id):])
	return id
}

func addTail(id ID, d uint64) ID {
	binary.BigEndian.PutUint64(id[8:], binary.BigEndian.Uint64(id[8:])+d)
	return id
}

// eachQueued calls fn with the IDs queued for webhook after cur (zero:
// from the start), ascending, until fn returns false.
func eachQueued(txn *badger.Txn, webhook, cur ID, fn func(ID) bool) error {
	pfx := queuePrefix(webhook)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: pfx, PrefetchValues: true, PrefetchSize: 16})
	defer it.Close()
	seek := pfx
	if !cur.IsZero() {
		seek = append(queueKey(webhook, cur), 0) // records whose last ID is after cur
	}
	more := true
	for it.Seek(seek); more && it.ValidForPrefix(pfx); it.Next() {
		item := it.Item()
		err := item.Value(func(v []byte) error {
			return decodeQueue(v, keyID(item.Key()), func(id ID) bool {
				if compareID(id, cur) <= 0 {
					return true
				}
				more = fn(id)
				return more
			})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// isQueued reports whether evt is in webhook's queue after cur.
func isQueued(txn *badger.Txn, webhook, cur, evt ID) (bool, error) {
	if compareID(evt, cur) <= 0 {
		return false, nil
	}
	pfx := queuePrefix(webhook)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: pfx})
	defer it.Close()
	it.Seek(queueKey(webhook, evt)) // the record whose last ID is evt or after it
	if !it.ValidForPrefix(pfx) {
		return false, nil
	}
	found := false
	item := it.Item()
	err := item.Value(func(v []byte) error {
		return decodeQueue(v, keyID(item.Key()), func(id ID) bool {
			found = id == evt
			return compareID(id, evt) < 0
		})
	})
	return found, err
}
