package wal

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Batches and attempts are written two or three times per delivery, so
// they are encoded by hand rather than by reflection. The bytes are exactly
// what json.Marshal makes of them (TestRecordJSONMatchesMarshal), so they
// are read back with json.Unmarshal as before.

func marshalBatch(b *Batch) ([]byte, error) {
	// Room for the whole record unless strings need escapes (a delivered
	// size-1 batch is ~330 bytes).
	size := 384 + len(b.Status) + len(b.LastStatus) + len(b.NextTrigger)
	for _, e := range b.Events {
		size += 56 + len(e.Type)
	}
	for _, r := range b.Refs {
		size += 28 + len(r.Name) + len(r.Value)
	}
	out := make([]byte, 0, size)
	out = append(out, `{"status":`...)
	out = appendJSONString(out, b.Status)
	out = append(out, `,"events":`...)
	if b.Events == nil {
		out = append(out, "null"...)
	} else {
		out = append(out, '[')
		for i, e := range b.Events {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"id":`...)
			out = appendJSONID(out, e.ID)
			out = append(out, `,"type":`...)
			out = appendJSONString(out, e.Type)
			out = append(out, '}')
		}
		out = append(out, ']')
	}
	if len(b.Refs) > 0 {
		out = append(out, `,"refs":[`...)
		for i, r := range b.Refs {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"Name":`...)
			out = appendJSONString(out, r.Name)
			out = append(out, `,"Value":`...)
			out = appendJSONString(out, r.Value)
			out = append(out, '}')
		}
		out = append(out, ']')
	}
	out = append(out, `,"attempts":`...)
	out = strconv.AppendInt(out, int64(b.Attempts), 10)
	out = append(out, `,"maxAttempts":`...)
	out = strconv.AppendInt(out, int64(b.MaxAttempts), 10)
	var err error
	if out, err = appendJSONTime(out, `,"createdAt":`, b.CreatedAt); err != nil {
		return nil, err
	}
	for _, t := range []struct {
		key string
		t   time.Time
	}{{`,"nextAttemptAt":`, b.NextAttemptAt}, {`,"lastAttemptAt":`, b.LastAttemptAt}} {
		if !t.t.IsZero() {
			if out, err = appendJSONTime(out, t.key, t.t); err != nil {
				return nil, err
			}
		}
	}
	if b.LastStatus != "" {
		out = append(out, `,"lastAttemptStatus":`...)
		out = appendJSONString(out, b.LastStatus)
	}
	if b.LastCode != 0 {
		out = append(out, `,"lastStatusCode":`...)
		out = strconv.AppendInt(out, int64(b.LastCode), 10)
	}
	if !b.LastAttemptID.IsZero() {
		out = append(out, `,"lastAttemptId":`...)
		out = appendJSONID(out, b.LastAttemptID)
	}
	if !b.DeliveredAt.IsZero() {
		if out, err = appendJSONTime(out, `,"deliveredAt":`, b.DeliveredAt); err != nil {
			return nil, err
		}
	}
	if !b.NextAttemptID.IsZero() {
		out = append(out, `,"nextAttemptId":`...)
		out = appendJSONID(out, b.NextAttemptID)
	}
	if b.NextTrigger != "" {
		out = append(out, `,"nextTrigger":`...)
		out = appendJSONString(out, b.NextTrigger)
	}
	if b.Version != 0 {
		out = append(out, `,"version":`...)
		out = strconv.AppendUint(out, b.Version, 10)
	}
	return append(out, '}'), nil
}

func marshalAttempt(a *Attempt) ([]byte, error) {
	// Room for the whole record unless strings need escapes: a buffer
	// that grew while appending the headers was ~4% of what hookd
	// allocated delivering single events.
	size := 320 + len(a.Status) + len(a.Trigger) + len(a.ResponseBody) + len(a.Error)
	var room [12]string // the dispatcher's headers and a few custom ones
	keys := room[:0]    // the headers' names, sorted below
	for k, v := range a.RequestHeaders {
		keys = append(keys, k)
		size += len(k) + len(v) + 6
	}
	out := make([]byte, 0, size)
	out = append(out, `{"webhookId":`...)
	out = appendJSONID(out, a.WebhookID)
	out = append(out, `,"status":`...)
	out = appendJSONString(out, a.Status)
	out = append(out, `,"trigger":`...)
	out = appendJSONString(out, a.Trigger)
	var err error
	if out, err = appendJSONTime(out, `,"scheduledAt":`, a.ScheduledAt); err != nil {
		return nil, err
	}
	if !a.StartedAt.IsZero() {
		if out, err = appendJSONTime(out, `,"startedAt":`, a.StartedAt); err != nil {
			return nil, err
		}
	}
	if a.Duration != 0 {
		out = append(out, `,"duration":`...)
		out = strconv.AppendInt(out, int64(a.Duration), 10)
	}
	if len(a.RequestHeaders) > 0 {
		out = append(out, `,"requestHeaders":{`...)
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendJSONString(out, k)
			out = append(out, ':')
			out = appendJSONString(out, a.RequestHeaders[k])
		}
		out = append(out, '}')
	}
	if a.ResponseCode != 0 {
		out = append(out, `,"responseStatusCode":`...)
		out = strconv.AppendInt(out, int64(a.ResponseCode), 10)
	}
	if a.ResponseBody != "" {
		out = append(out, `,"responseBody":`...)
		out = appendJSONString(out, a.ResponseBody)
	}
	if a.Error != "" {
		out = append(out, `,"error":`...)
		out = appendJSONString(out, a.Error)
	}
	return append(out, '}'), nil
}

// appendJSONString appends s as encoding/json would: ASCII here, with
// its escapes (HTML characters included: every attempt record holds
// "v1,<redacted>"), and a string with any byte past ASCII through
// json.Marshal (UTF-8 checks, U+2028 and U+2029).
func appendJSONString(out []byte, s string) []byte {
	start := len(out)
	out = append(out, '"')
	plain := 0 // s[plain:i] needs no escape
	for i := 0; i < len(s); i++ {
		c := s[i]
		if jsonPlain[c] {
			continue
		}
		if c >= utf8.RuneSelf {
			q, _ := json.Marshal(s) // a string always encodes
			return append(out[:start], q...)
		}
		out = append(out, s[plain:i]...)
		plain = i + 1
		switch c {
		case '"', '\\':
			out = append(out, '\\', c)
		case '\b':
			out = append(out, '\\', 'b')
		case '\f':
			out = append(out, '\\', 'f')
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
	}
	out = append(out, s[plain:]...)
	return append(out, '"')
}

// jsonPlain holds the bytes encoding/json writes as they are: printable
// ASCII (and DEL) but for the quote, the backslash and <, >, &.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

func appendJSONID(out []byte, id ID) []byte {
	return append(id.AppendText(append(out, '"'), ""), '"')
}

// appendJSONTime appends key and t as time.Time.MarshalJSON does,
// including its refusal of years outside 0..9999.
func appendJSONTime(out []byte, key string, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		_, err := t.MarshalJSON()
		return nil, err
	}
	out = append(out, key...)
	out = append(out, '"')
	out = t.AppendFormat(out, time.RFC3339Nano)
	return append(out, '"'), nil
}
