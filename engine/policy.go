package engine

import (
	"strconv"
	"time"
)

// The retry policy: what a response means and when to try again. It is
// pure: time arrives as arguments, randomness as a jitter value.

// VerdictKind is what to do with a batch after an attempt.
type VerdictKind uint8

const (
	// Retry: the attempt failed; try again on the schedule, but not before
	// Verdict.NotBefore.
	Retry VerdictKind = iota
	// Done: the receiver accepted the batch (any 2xx).
	Done
	// Gone: the receiver answered 410; deactivate the webhook and expire
	// the batch.
	Gone
)

func (k VerdictKind) String() string {
	switch k {
	case Done:
		return "done"
	case Gone:
		return "gone"
	default:
		return "retry"
	}
}

// Verdict is the outcome of one attempt.
type Verdict struct {
	Kind VerdictKind
	// NotBefore is the least delay before the next attempt that the
	// receiver asked for (Retry-After on 429/503); the scheduler waits
	// max(NotBefore, NextDelay).
	NotBefore time.Duration
	// Class is the error class (ClassTimeout, …) when the attempt got no
	// response, and "" when the receiver answered. ClassBackpressure and
	// ClassCanceled mean the request never left: not an attempt.
	Class string
}

// MaxRetryAfter caps how long a receiver can push back the next attempt.
const MaxRetryAfter = 24 * time.Hour

// DefaultSchedule is the delay before each attempt, the first one included
// (Svix's schedule). Do not modify it; copy it.
var DefaultSchedule = []time.Duration{
	0,
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	10 * time.Hour,
}

// Classify turns the result of an attempt into a verdict: a transport
// error retries; 2xx is done; 410 is gone; 429 and 503 retry no sooner
// than retryAfter (capped at MaxRetryAfter); any other status retries.
func Classify(status int, err error, retryAfter time.Duration) Verdict {
	if err != nil {
		return Verdict{Kind: Retry, Class: ClassOf(err)}
	}
	switch {
	case status >= 200 && status <= 299:
		return Verdict{Kind: Done}
	case status == 410:
		return Verdict{Kind: Gone}
	case status == 429 || status == 503:
		return Verdict{Kind: Retry, NotBefore: clampRetryAfter(retryAfter)}
	case status < 100 || status > 999:
		return Verdict{Kind: Retry, Class: ClassOther}
	default:
		return Verdict{Kind: Retry}
	}
}

// ParseRetryAfter reads a Retry-After value, delta-seconds or an HTTP-date
// (IMF-fixdate, RFC 850 or asctime), as a delay from now. Invalid, past or
// negative values give 0; the result is capped at MaxRetryAfter.
func ParseRetryAfter(v []byte, now time.Time) time.Duration {
	v = trimSpace(v)
	if len(v) == 0 {
		return 0
	}
	if isDigits(v) {
		secs, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil || secs > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter // overflow: only huge numbers fail to parse
		}
		return time.Duration(secs) * time.Second
	}
	for _, layout := range httpDateLayouts {
		if t, err := time.Parse(layout, string(v)); err == nil {
			return clampRetryAfter(t.Sub(now))
		}
	}
	return 0
}

var httpDateLayouts = []string{
	"Mon, 02 Jan 2006 15:04:05 GMT", // IMF-fixdate (http.TimeFormat)
	time.RFC850,
	time.ANSIC,
}

// NextDelay returns the delay before the next attempt, given how many
// attempts were already made (0 before the first), with ±20% jitter:
// jitter ∈ [0,1) maps linearly onto [-20%, +20%), 0.5 leaves the delay
// unchanged. It reports false when the schedule is exhausted: the batch
// expires.
func NextDelay(attempt int, schedule []time.Duration, jitter float64) (time.Duration, bool) {
	attempt = max(attempt, 0)
	if attempt >= len(schedule) {
		return 0, false
	}
	d := schedule[attempt]
	if d <= 0 {
		return 0, true
	}
	jitter = min(max(jitter, 0), 1)
	factor := 1 + 0.4*(jitter-0.5)
	return time.Duration(float64(d) * factor), true
}

func clampRetryAfter(d time.Duration) time.Duration {
	return min(max(d, 0), MaxRetryAfter)
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
