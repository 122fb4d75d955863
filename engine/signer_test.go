package engine

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// The Standard Webhooks reference vector.
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = 1614265330
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignKnownVector(t *testing.T) {
	key, err := ParseSecret(vecSecret)
	if err != nil {
		t.Fatalf("ParseSecret: %v", err)
	}
	if got := Sign([][]byte{key}, vecID, vecTS, []byte(vecBody)); got != vecSig {
		t.Errorf("Sign = %q; want %q", got, vecSig)
	}
}

func TestSignSeveralSecrets(t *testing.T) {
	key, _ := ParseSecret(vecSecret)
	other, _ := ParseSecret(GenerateSecret())
	got := Sign([][]byte{other, key}, vecID, vecTS, []byte(vecBody))
	parts := strings.Split(got, " ")
	if len(parts) != 2 || parts[1] != vecSig || !strings.HasPrefix(parts[0], "v1,") || parts[0] == vecSig {
		t.Errorf("Sign(2 secrets) = %q; want \"v1,<other> %s\"", got, vecSig)
	}
	if got := Sign(nil, vecID, vecTS, []byte(vecBody)); got != "" {
		t.Errorf("Sign(no secrets) = %q; want \"\"", got)
	}
}

func TestParseSecret(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantLen int
		wantErr error
	}{
		{vecSecret, 24, nil},
		{"whsec_" + base64.StdEncoding.EncodeToString([]byte("ab")), 2, nil},    // padded
		{"whsec_" + base64.RawStdEncoding.EncodeToString([]byte("ab")), 2, nil}, // unpadded
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0, ErrSecretPrefix},
		{"", 0, ErrSecretPrefix},
		{"whsec_", 0, ErrSecretEmpty},
		{"whsec_not base64!", 0, ErrSecretEncoding},
		{"whsec_a", 0, ErrSecretEncoding},
	} {
		key, err := ParseSecret(tc.in)
		if !errors.Is(err, tc.wantErr) || len(key) != tc.wantLen {
			t.Errorf("ParseSecret(%q) = %d bytes, %v; want %d bytes, %v", tc.in, len(key), err, tc.wantLen, tc.wantErr)
		}
	}
}

func TestGenerateSecret(t *testing.T) {
	a, b := GenerateSecret(), GenerateSecret()
	if a == b {
		t.Fatalf("two secrets are equal: %q", a)
	}
	key, err := ParseSecret(a)
	if err != nil || len(key) != 32 {
		t.Errorf("ParseSecret(GenerateSecret()) = %d bytes, %v; want 32 bytes, nil", len(key), err)
	}
}

func TestSignAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	key, _ := ParseSecret(vecSecret)
	secrets := [][]byte{key}
	body := []byte(vecBody)
	n := testing.AllocsPerRun(100, func() { Sign(secrets, vecID, vecTS, body) })
	if n > 6 {
		t.Errorf("Sign allocates %.0f times per call; want ≤ 6 (hmac.New and the result)", n)
	}
}
