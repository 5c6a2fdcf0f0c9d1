package bundle_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/bundle/internal/testpki"
)

func TestIdentity(t *testing.T) {
	p := fixture(t)
	b, err := bundle.Parse(one("b.pem", p.inter1.PEM(), p.leaf.PEM(), keyPEM(t, p.rsaKey, testpki.PKCS1)), p.opts())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(p.leaf.Cert.Raw)
	want := bundle.Identity{
		Fingerprint: hex.EncodeToString(sum[:]),
		Serial:      p.leaf.Cert.SerialNumber.Text(16),
		NotBefore:   testpki.DefaultNotBefore,
		NotAfter:    testpki.DefaultNotAfter,
		CommonName:  "example.com",
		SANs:        []string{"example.com", "www.example.com"},
		Issuer:      "Test Intermediate CA 1",
		KeyType:     "RSA-2048",
	}
	got := b.Identity()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Identity = %+v\nwant       %+v", got, want)
	}
	if bundle.Fingerprint(p.leaf.Cert) != want.Fingerprint || len(got.Fingerprint) != 64 {
		t.Errorf("Fingerprint = %s, want the 64-hex-digit SHA-256 of the DER", bundle.Fingerprint(p.leaf.Cert))
	}
	// Identity is what reports and plans carry: it has no key material.
	out, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if leak := leaksKey(string(out), p.rsaKey); leak != "" {
		t.Errorf("Identity JSON carries %s", leak)
	}
	if !strings.Contains(string(out), `"fingerprint":"`+want.Fingerprint+`"`) {
		t.Errorf("Identity JSON lacks the fingerprint: %s", out)
	}
}

func TestCertPEMAndKeyPEM(t *testing.T) {
	p := fixture(t)
	tests := []struct {
		name    string
		leaf    *testpki.Cert
		format  testpki.KeyFormat
		keyType string
	}{
		{"PKCS#8 RSA becomes RSA PRIVATE KEY", p.leaf, testpki.PKCS8, "RSA PRIVATE KEY"},
		{"PKCS#1 RSA stays RSA PRIVATE KEY", p.leaf, testpki.PKCS1, "RSA PRIVATE KEY"},
		{"PKCS#8 ECDSA becomes EC PRIVATE KEY", p.leafEC, testpki.PKCS8, "EC PRIVATE KEY"},
		{"SEC1 with EC PARAMETERS becomes a lone EC PRIVATE KEY", p.leafEC, testpki.SEC1WithParams, "EC PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// CRLF, a BOM and the root in reverse order: none of it may
			// reach the output.
			in := cat([]byte("\xEF\xBB\xBF"), p.root.PEM(), p.inter1.PEM(), keyPEM(t, tt.leaf.Key, tt.format), tt.leaf.PEM())
			b, err := bundle.Parse(one("b.pem", crlfOf(in)), p.opts())
			if err != nil {
				t.Fatal(err)
			}
			certPEM := b.CertPEM()
			if strings.ContainsRune(certPEM, '\r') {
				t.Error("CertPEM has CR line endings")
			}
			var got []*x509.Certificate
			rest := []byte(certPEM)
			for {
				var blk *pem.Block
				blk, rest = pem.Decode(rest)
				if blk == nil {
					break
				}
				c, err := x509.ParseCertificate(blk.Bytes)
				if err != nil || blk.Type != "CERTIFICATE" {
					t.Fatalf("CertPEM block %s: %v", blk.Type, err)
				}
				got = append(got, c)
			}
			if len(bytes.TrimSpace(rest)) != 0 {
				t.Error("CertPEM has text after its blocks")
			}
			if len(got) != 2 || !got[0].Equal(tt.leaf.Cert) || !got[1].Equal(p.inter1.Cert) {
				t.Errorf("CertPEM = %s, want the leaf then the intermediate, no root", subjects(got))
			}

			key := b.KeyPEM().Reveal()
			if strings.ContainsRune(key, '\r') {
				t.Error("KeyPEM has CR line endings")
			}
			blk, rest := pem.Decode([]byte(key))
			if blk == nil || len(rest) != 0 {
				t.Fatal("KeyPEM is not exactly one PEM block")
			}
			if blk.Type != tt.keyType {
				t.Fatalf("KeyPEM type = %s, want %s", blk.Type, tt.keyType)
			}
			var parsed crypto.Signer
			if tt.keyType == "RSA PRIVATE KEY" {
				parsed, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
			} else {
				parsed, err = x509.ParseECPrivateKey(blk.Bytes)
			}
			if err != nil {
				t.Fatalf("KeyPEM does not parse back: %s", err)
			}
			if !parsed.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.leaf.Key.Public()) {
				t.Error("KeyPEM is another key")
			}
		})
	}
	t.Run("a Bundle that Parse did not make has no key", func(t *testing.T) {
		if !(&bundle.Bundle{}).KeyPEM().IsZero() || (&bundle.Bundle{}).KeyType() != "" {
			t.Error("an empty Bundle has a key")
		}
	})
}

func TestSecretRedacts(t *testing.T) {
	p := fixture(t)
	b, err := bundle.Parse(one("b.pem", p.leaf.PEM(), p.inter1.PEM(), keyPEM(t, p.rsaKey, testpki.PKCS8)), p.opts())
	if err != nil {
		t.Fatal(err)
	}
	s := b.KeyPEM()
	if !strings.HasPrefix(s.Reveal(), "-----BEGIN RSA PRIVATE KEY-----\n") || s.IsZero() {
		t.Fatal("Reveal does not return the key PEM")
	}
	type wrapper struct {
		Name string
		Key  bundle.Secret
		Ptr  *bundle.Secret
	}
	w := wrapper{Name: "example.com", Key: s, Ptr: &s}
	slogOut := func(newHandler func(*bytes.Buffer) slog.Handler, args ...any) string {
		var buf bytes.Buffer
		slog.New(newHandler(&buf)).Info("deploy", args...)
		return buf.String()
	}
	jsonH := func(buf *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(buf, nil) }
	textH := func(buf *bytes.Buffer) slog.Handler { return slog.NewTextHandler(buf, nil) }
	marshal := func(v any) string {
		out, err := json.Marshal(v)
		if err != nil {
			return "error: " + err.Error()
		}
		// encoding/json escapes < and > for HTML; read it back as text.
		return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">").Replace(string(out))
	}
	tests := []struct {
		name string
		out  string
	}{
		{"String method", s.String()},
		{"GoString method", s.GoString()},
		{"as a fmt.Stringer", fmt.Stringer(s).String()},
		{"in an error", fmt.Errorf("deploy with %v: %w", s, errors.New("denied")).Error()},
		{"fmt %v", fmt.Sprintf("%v", s)},
		{"fmt %s", fmt.Sprintf("%s", s)},
		{"fmt %+v", fmt.Sprintf("%+v", s)},
		{"fmt %#v", fmt.Sprintf("%#v", s)},
		{"fmt %q", fmt.Sprintf("%q", s)},
		{"fmt %x", fmt.Sprintf("%x", s)},
		{"fmt Sprint", fmt.Sprint(s)},
		{"fmt Sprintln", fmt.Sprintln(s)},
		{"fmt %v of a pointer", fmt.Sprintf("%v", &s)},
		{"fmt %v in a struct", fmt.Sprintf("%v", w)},
		{"fmt %+v in a struct", fmt.Sprintf("%+v", w)},
		{"fmt %#v in a struct", fmt.Sprintf("%#v", w)},
		{"fmt %v in a slice", fmt.Sprintf("%v", []bundle.Secret{s})},
		{"fmt %v in a map", fmt.Sprintf("%v", map[string]bundle.Secret{"k": s})},
		{"slog JSON handler", slogOut(jsonH, "key", s)},
		{"slog JSON handler, pointer", slogOut(jsonH, "key", &s)},
		{"slog JSON handler, in a group", slogOut(jsonH, slog.Group("cert", "key", s))},
		{"slog JSON handler, struct field", slogOut(jsonH, "w", w)},
		{"slog JSON handler, slog.Any", slogOut(jsonH, slog.Any("key", s))},
		{"slog text handler", slogOut(textH, "key", s)},
		{"slog text handler, pointer", slogOut(textH, "key", &s)},
		{"slog text handler, in a group", slogOut(textH, slog.Group("cert", "key", s))},
		{"slog text handler, struct field", slogOut(textH, "w", w)},
		{"json.Marshal", marshal(s)},
		{"json.Marshal of a pointer", marshal(&s)},
		{"json.Marshal in a struct", marshal(w)},
		{"json.Marshal as a map key", marshal(map[bundle.Secret]int{s: 1})},
		{"json.Marshal in a map value", marshal(map[string]any{"key": s})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if leak := leaksKey(tt.out, p.rsaKey); leak != "" {
				t.Fatalf("output carries %s", leak)
			}
			if !strings.Contains(tt.out, bundle.Redacted) {
				t.Errorf("output %q does not say %s", tt.out, bundle.Redacted)
			}
		})
	}
	t.Run("MarshalText", func(t *testing.T) {
		out, err := s.MarshalText()
		if err != nil || string(out) != bundle.Redacted {
			t.Errorf("MarshalText = %q, %v", out, err)
		}
	})
}
