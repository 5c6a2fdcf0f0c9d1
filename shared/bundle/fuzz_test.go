package bundle_test

import (
	"bytes"
	"context"
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

// FuzzSplit feeds arbitrary bytes to Split, cut at two points into three
// sources (as a folder of files), together with a lego folder of two
// domains. It must never panic; every rejection must be an *Error wrapping
// exactly one sentinel and blaming a source it was given; every source must
// be accounted for (in a bundle, rejected or unused); no message may echo
// key material; and every bundle must have a leaf that matches its key.
func FuzzSplit(f *testing.F) {
	entries, err := os.ReadDir(staticDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		var all []byte
		var cuts []uint16
		for _, s := range readStatic(f, e.Name()) {
			cuts = append(cuts, uint16(len(all)))
			all = append(all, s.Data...)
		}
		cuts = append(cuts, 0, 0, 0)
		f.Add(all, cuts[1], cuts[2])
	}
	f.Add([]byte(""), uint16(0), uint16(0))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"), uint16(3), uint16(7))
	lego := readStatic(f, "acme.sh")
	other := readStatic(f, "pkcs8")
	opts := staticOptions(f)
	f.Fuzz(func(t *testing.T, data []byte, cut1, cut2 uint16) {
		a, b := min(int(cut1), len(data)), min(int(cut2), len(data))
		if a > b {
			a, b = b, a
		}
		srcs := []bundle.Source{
			{Name: "fuzz-a.pem", Data: data[:a]}, {Name: "fuzz-b.key", Data: data[a:b]}, {Name: "fuzz-c.crt", Data: data[b:]},
		}
		for _, s := range append(lego, other...) {
			srcs = append(srcs, bundle.Source{Name: "x/" + s.Name, Data: s.Data})
		}
		fo, err := bundle.Split(context.Background(), srcs, opts)
		if err != nil {
			checkFuzzError(t, err, data)
			return
		}
		given := map[string]bool{}
		for _, s := range srcs {
			given[s.Name] = true
		}
		seen := map[string]bool{}
		for _, bd := range fo.Bundles {
			if bd.Leaf == nil || bd.KeyPEM().IsZero() || len(bd.Sources) == 0 {
				t.Fatal("a bundle without a leaf, a key or sources")
			}
			for _, n := range bd.Sources {
				if !given[n] {
					t.Fatalf("a bundle names a source %q it was not given", n)
				}
				seen[n] = true
			}
			_ = bd.Validate(opts)
			for _, w := range bd.Warnings {
				checkFuzzMessage(t, w, data)
			}
		}
		for _, e := range fo.Rejected {
			checkFuzzError(t, e, data)
			if !given[e.Source] {
				t.Fatalf("a rejection blames %q, not a source", e.Source)
			}
			seen[e.Source] = true
		}
		for _, n := range fo.Unused {
			seen[n] = true
		}
		for n := range given {
			if !seen[n] {
				t.Fatalf("source %q is neither in a bundle, rejected nor unused", n)
			}
		}
		for _, w := range fo.Warnings {
			checkFuzzMessage(t, w, data)
		}
	})
}
