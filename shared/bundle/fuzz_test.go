package bundle_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/bundle"
)

// base64Run finds runs of base64 that could be a slice of a PEM body: long,
// and with a lower-case letter, a digit, '+' or '/' (labels like
// "CERTIFICATE" have none of those, and source names are fixed here).
var base64Run = regexp.MustCompile(`[A-Za-z0-9+/]{24,}`)

// FuzzParseBundle feeds arbitrary bytes to Parse, split at an arbitrary
// point into two sources, then validates what Parse accepts. It must never
// panic; every error must be an *Error wrapping exactly one sentinel; no
// message may echo a private-key block or a long run of the input's base64.
func FuzzParseBundle(f *testing.F) {
	// Seeds: every static bundle, whole, and edge cases.
	entries, err := os.ReadDir(staticDir)
	if err != nil {
		f.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		var all []byte
		split := uint16(0)
		for i, s := range readStatic(f, name) {
			if i == 1 {
				split = uint16(len(all))
			}
			all = append(all, s.Data...)
		}
		f.Add(all, split)
	}
	root, err := os.ReadFile(filepath.Join(staticDir, "demo-root.pem"))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"",
		"\xEF\xBB\xBF",
		"\xFF\xFE-\x00-\x00",
		"-----BEGIN ",
		"-----BEGIN CERTIFICATE-----\n",
		"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
		"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
		"-----END PRIVATE KEY-----\n",
		"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
		"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nMAA=\n-----END RSA PRIVATE KEY-----\n",
		"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n",
		"-----BEGIN CERTIFICATE----------END CERTIFICATE-----",
		"\x30\x03\x02\x01\x03",
		"\x30\x82\xff\xff",
		"PK\x03\x04",
	} {
		f.Add([]byte(seed), uint16(0))
	}
	f.Add(root, uint16(len(root)/2))

	opts := staticOptions(f)
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		k := int(split)
		if k > len(data) {
			k = len(data)
		}
		srcs := []bundle.Source{{Name: "a.pem", Data: data[:k]}, {Name: "b.pem", Data: data[k:]}}
		b, err := bundle.Parse(srcs, opts)
		if err != nil {
			checkFuzzError(t, err, data)
			return
		}
		if b.Leaf == nil || b.KeyPEM().IsZero() || b.CertPEM() == "" {
			t.Fatal("Parse accepted a bundle without a leaf or a key")
		}
		if strings.Contains(b.CertPEM(), "\r") || strings.Contains(b.KeyPEM().Reveal(), "\r") {
			t.Fatal("output has CR line endings")
		}
		_ = b.Identity()
		_ = b.Covers("www.example.com")
		_ = b.Covers(".example.com")
		if err := b.Validate(opts); err != nil {
			checkFuzzError(t, err, data)
		}
		for _, w := range b.Warnings {
			checkFuzzMessage(t, w, data)
		}
	})
}

func checkFuzzError(t *testing.T, err error, input []byte) {
	t.Helper()
	var e *bundle.Error
	if !errors.As(err, &e) {
		t.Fatalf("error is a %T, not a *bundle.Error", err)
	}
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error wraps %d sentinels, want 1", n)
	}
	checkFuzzMessage(t, err.Error(), input)
}

func checkFuzzMessage(t *testing.T, msg string, input []byte) {
	t.Helper()
	if strings.Contains(msg, "PRIVATE KEY-----") {
		t.Fatal("message carries a private key PEM marker")
	}
	for _, run := range base64Run.FindAllString(msg, -1) {
		if strings.ContainsAny(run, "abcdefghijklmnopqrstuvwxyz0123456789+/") && bytes.Contains(input, []byte(run)) {
			t.Fatalf("message echoes %d characters of the input's base64", len(run))
		}
	}
}
