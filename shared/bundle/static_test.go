package bundle_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
)

//go:generate go run ./internal/gentestdata -out ../../testdata/bundles

// staticDir holds the committed bundles written by internal/gentestdata.
const staticDir = "../../testdata/bundles"

// staticCase is the exact outcome expected of one folder of staticDir.
type staticCase struct {
	dir         string // the folder to read, below the case's; "" for the case's own
	bundles     int    // Split: the number of valid bundles (several: Parse refuses the folder)
	parseErr    error  // sentinel Parse must return
	validateErr error  // sentinel Validate must return
	chain       int    // accepted: leaf + intermediates
	keyType     string // accepted: the key type
	covers      []string
	notCovers   []string
}

var staticCases = map[string]staticCase{
	"crlf":                 {chain: 2, keyType: "RSA-2048", covers: []string{"example.com", "www.example.com"}},
	"bom":                  {chain: 2, keyType: "ECDSA-P256"},
	"reversed-chain":       {chain: 3, keyType: "RSA-2048"},
	"key-first":            {chain: 2, keyType: "RSA-2048"},
	"pkcs1":                {chain: 2, keyType: "RSA-2048"},
	"pkcs8":                {chain: 2, keyType: "RSA-2048"},
	"sec1":                 {chain: 2, keyType: "ECDSA-P256"},
	"openssl-text":         {chain: 2, keyType: "RSA-2048"},
	"acme.sh":              {chain: 2, keyType: "ECDSA-P256", covers: []string{"example.com", "www.example.com"}, notCovers: []string{"*.example.com"}},
	"certbot":              {chain: 2, keyType: "ECDSA-P256", covers: []string{"www.example.com"}},
	"certbot-live":         {dir: "live/example.com", chain: 2, keyType: "ECDSA-P256", covers: []string{"www.example.com"}},
	"lego":                 {bundles: 2, parseErr: bundle.ErrMultipleKeys},
	"wildcard":             {chain: 2, keyType: "ECDSA-P256", covers: []string{"example.com", "a.example.com", "*.example.com", ".example.com"}, notCovers: []string{"a.b.example.com"}},
	"encrypted-key":        {parseErr: bundle.ErrEncryptedKey},
	"encrypted-legacy":     {parseErr: bundle.ErrEncryptedKey},
	"mismatched":           {parseErr: bundle.ErrKeyMismatch},
	"ed25519":              {parseErr: bundle.ErrUnsupportedKey},
	"truncated":            {parseErr: bundle.ErrMalformed},
	"expired":              {validateErr: bundle.ErrExpired},
	"missing-intermediate": {validateErr: bundle.ErrMissingIntermediate},
}

// readStatic returns the files of one static case as sources.
func readStatic(tb testing.TB, name string) []bundle.Source {
	tb.Helper()
	dir := filepath.Join(staticDir, name, filepath.FromSlash(staticCases[name].dir))
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var srcs []bundle.Source
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name())) // follows certbot's links
		if err != nil {
			tb.Fatal(err)
		}
		srcs = append(srcs, bundle.Source{Name: filepath.Join(name, e.Name()), Data: data})
	}
	return srcs
}

func staticOptions(tb testing.TB) bundle.Options {
	tb.Helper()
	roots, err := bundle.LoadRoots(filepath.Join(staticDir, "demo-root.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	return bundle.Options{
		Now:           func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) },
		Roots:         roots,
		NoSystemRoots: true,
	}
}

func TestStaticBundles(t *testing.T) {
	opts := staticOptions(t)
	entries, err := os.ReadDir(staticDir)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Strings(dirs)
	seen := map[string]bool{}
	for _, name := range dirs {
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			want, ok := staticCases[name]
			if !ok {
				t.Fatalf("%s has no expected outcome in staticCases", name)
			}
			if want.bundles > 0 {
				f, err := bundle.Split(context.Background(), readStatic(t, name), opts)
				if err != nil || len(f.Bundles) != want.bundles || len(f.Rejected) != 0 {
					t.Fatalf("Split = %v, %v; want %d bundles", f, err, want.bundles)
				}
				for _, b := range f.Bundles {
					if err := b.Validate(opts); err != nil {
						t.Errorf("Validate %s: %v", b.Leaf.DNSNames[0], err)
					}
				}
			}
			b, err := bundle.Parse(readStatic(t, name), opts)
			if want.parseErr != nil {
				var e *bundle.Error
				if !errors.Is(err, want.parseErr) || !errors.As(err, &e) {
					t.Fatalf("Parse = %v, want %v", err, want.parseErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			err = b.Validate(opts)
			if want.validateErr != nil {
				var e *bundle.Error
				if !errors.Is(err, want.validateErr) || !errors.As(err, &e) {
					t.Fatalf("Validate = %v, want %v", err, want.validateErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if len(b.Warnings) != 0 {
				t.Errorf("warnings: %q", b.Warnings)
			}
			if got := len(b.Chain()); got != want.chain {
				t.Errorf("chain of %d (%s), want %d", got, subjects(b.Chain()), want.chain)
			}
			if b.KeyType() != want.keyType {
				t.Errorf("KeyType = %s, want %s", b.KeyType(), want.keyType)
			}
			for _, d := range want.covers {
				if !b.Covers(d) {
					t.Errorf("does not cover %s", d)
				}
			}
			for _, d := range want.notCovers {
				if b.Covers(d) {
					t.Errorf("covers %s", d)
				}
			}
		})
	}
	for name := range staticCases {
		if !seen[name] {
			t.Errorf("staticCases lists %s, which is not in %s", name, staticDir)
		}
	}
}

// TestStaticBundlesLiveLong keeps the committed bundles from rotting: every
// accepted one must still validate on the real clock, and the expired one
// must stay expired.
func TestStaticBundlesLiveLong(t *testing.T) {
	opts := staticOptions(t)
	opts.Now = nil
	for name, want := range staticCases {
		if want.parseErr != nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			b, err := bundle.Parse(readStatic(t, name), opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Validate(opts); !errors.Is(err, want.validateErr) {
				t.Errorf("Validate on the real clock = %v, want %v", err, want.validateErr)
			}
		})
	}
}
