package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"

	"github.com/golang-jwt/jwt/v5"

	"hookd/config"
)

// jwtKeys are the keys that verify tokens. Each key fixes its algorithm:
// the HS256 secret verifies only HS256, an RSA key only RS256, a P-256 key
// only ES256, so a token cannot pick an algorithm the operator did not
// configure (alg "none", or an HS256 token "signed" with a public key).
type jwtKeys struct {
	hmac []byte
	rsa  map[string]*rsa.PublicKey   // by kid; "" for the PEM file's key
	ec   map[string]*ecdsa.PublicKey // by kid
}

func loadJWTKeys(c config.Auth) (*jwtKeys, error) {
	k := &jwtKeys{rsa: map[string]*rsa.PublicKey{}, ec: map[string]*ecdsa.PublicKey{}}
	if c.JWTSecret != "" {
		k.hmac = []byte(c.JWTSecret)
	}
	if c.JWTPublicKeyFile != "" {
		pem, err := os.ReadFile(c.JWTPublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("api: auth.jwt_public_key_file: %w", err)
		}
		if rk, err := jwt.ParseRSAPublicKeyFromPEM(pem); err == nil {
			k.rsa[""] = rk
		} else if ek, err := jwt.ParseECPublicKeyFromPEM(pem); err == nil && ek.Curve == elliptic.P256() {
			k.ec[""] = ek
		} else {
			return nil, fmt.Errorf("api: auth.jwt_public_key_file: not an RSA or P-256 public key in PEM")
		}
	}
	if c.JWKSFile != "" {
		if err := k.loadJWKS(c.JWKSFile); err != nil {
			return nil, fmt.Errorf("api: auth.jwks_file: %w", err)
		}
	}
	if k.hmac == nil && len(k.rsa) == 0 && len(k.ec) == 0 {
		return nil, errors.New("api: auth.mode jwt needs auth.jwt_secret, auth.jwt_public_key_file or auth.jwks_file")
	}
	return k, nil
}

func (k *jwtKeys) loadJWKS(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var set struct {
		Keys []struct {
			Kty, Kid, Crv, N, E, X, Y, Use string
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return err
	}
	num := func(s string) (*big.Int, error) {
		v, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(v) == 0 {
			return nil, fmt.Errorf("bad base64url number")
		}
		return new(big.Int).SetBytes(v), nil
	}
	for i, j := range set.Keys {
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		switch j.Kty {
		case "RSA":
			n, err1 := num(j.N)
			e, err2 := num(j.E)
			if err1 != nil || err2 != nil || !e.IsInt64() {
				return fmt.Errorf("keys[%d]: bad RSA key", i)
			}
			k.rsa[j.Kid] = &rsa.PublicKey{N: n, E: int(e.Int64())}
		case "EC":
			x, err1 := num(j.X)
			y, err2 := num(j.Y)
			if j.Crv != "P-256" || err1 != nil || err2 != nil {
				return fmt.Errorf("keys[%d]: only P-256 EC keys are supported", i)
			}
			k.ec[j.Kid] = &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
		}
	}
	if len(k.rsa)+len(k.ec) == 0 {
		return errors.New("no RSA or P-256 signing key")
	}
	return nil
}

// methods are the algorithms the configured keys verify.
func (k *jwtKeys) methods() []string {
	var m []string
	if k.hmac != nil {
		m = append(m, "HS256")
	}
	if len(k.rsa) > 0 {
		m = append(m, "RS256")
	}
	if len(k.ec) > 0 {
		m = append(m, "ES256")
	}
	return m
}

// keyByKid is the key named kid, or the only one when the token names none.
func keyByKid[K any](keys map[string]K, kid string) (any, error) {
	if v, ok := keys[kid]; ok {
		return v, nil
	}
	if kid == "" && len(keys) == 1 {
		for _, v := range keys {
			return v, nil
		}
	}
	return nil, errors.New("unknown key")
}

// keyfunc picks the key for a token by its algorithm and kid. A token
// without kid uses the only key of its kind.
func (k *jwtKeys) keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	switch t.Method.Alg() {
	case "HS256":
		if k.hmac != nil {
			return k.hmac, nil
		}
	case "RS256":
		return keyByKid(k.rsa, kid)
	case "ES256":
		return keyByKid(k.ec, kid)
	}
	return nil, errors.New("algorithm not configured")
}
