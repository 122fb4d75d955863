package engine

import "testing"

func BenchmarkSign(b *testing.B) {
	key, _ := ParseSecret(vecSecret)
	secrets := [][]byte{key}
	body := make([]byte, 30<<10) // a 100-event batch
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		Sign(secrets, vecID, vecTS, body)
	}
}
