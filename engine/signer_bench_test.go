package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"testing"
)

func BenchmarkSign(b *testing.B) {
	key, _ := ParseSecret(vecSecret)
	secrets := [][]byte{key}
	for _, c := range []struct {
		name string
		size int
	}{{"event", 400}, {"batch100", 30 << 10}} {
		body := make([]byte, c.size)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				Sign(secrets, vecID, vecTS, body)
			}
		})
	}
}

// A scratch that keeps the last secret's HMAC signs right whatever the
// order of secrets: one, another, both (rotation), the first again.
func TestSignReusesKeyedHMAC(t *testing.T) {
	k1, k2 := []byte("first-secret-0123456789abcdef012"), []byte("second-secret-0123456789abcdef01")
	want := func(key []byte, body string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(vecID + "." + strconv.FormatInt(vecTS, 10) + "." + body))
		return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	for i, c := range []struct {
		keys [][]byte
		body string
	}{{[][]byte{k1}, "a"}, {[][]byte{k1}, "b"}, {[][]byte{k2}, "a"}, {[][]byte{k1, k2}, "c"}, {[][]byte{k2, k1}, "d"}, {[][]byte{k1}, "a"}} {
		exp := ""
		for j, k := range c.keys {
			if j > 0 {
				exp += " "
			}
			exp += want(k, c.body)
		}
		if got := Sign(c.keys, vecID, vecTS, []byte(c.body)); got != exp {
			t.Errorf("call %d: %s, want %s", i, got, exp)
		}
	}
}
