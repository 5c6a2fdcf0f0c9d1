package bundle_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/bundle/internal/testpki"
)

// permutations returns every order of xs.
func permutations[T any](xs []T) [][]T {
	if len(xs) <= 1 {
		return [][]T{append([]T(nil), xs...)}
	}
	var out [][]T
	for i := range xs {
		rest := append(append([]T(nil), xs[:i]...), xs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]T{xs[i]}, p...))
		}
	}
	return out
}

func TestChainOrderEveryPermutation(t *testing.T) {
	p := fixture(t)
	key := keyPEM(t, p.deep.Key, testpki.SEC1)
	certs := []*testpki.Cert{p.deep, p.inter2, p.inter1, p.root}
	const want = "deep.example.com > Test Intermediate CA 2 > Test Intermediate CA 1"
	for _, perm := range permutations(certs) {
		var names []string
		for _, c := range perm {
			names = append(names, c.Cert.Subject.CommonName)
		}
		t.Run(strings.Join(names, ","), func(t *testing.T) {
			b, err := bundle.Parse(one("bundle.pem", pemOf(perm...), key), p.opts())
			if err != nil {
				t.Fatal(err)
			}
			if got := subjects(b.Chain()); got != want {
				t.Errorf("chain = %s, want %s", got, want)
			}
			if len(b.Extra) != 0 || len(b.Warnings) != 0 {
				t.Errorf("Extra = %d, warnings %q; the root is dropped silently", len(b.Extra), b.Warnings)
			}
			if err := b.Validate(p.opts()); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestChainOrder(t *testing.T) {
	p := fixture(t)
	deepKey := keyPEM(t, p.deep.Key, testpki.PKCS8)
	unrelated := issue(t, testpki.Spec{CN: "other.example.net", DNS: []string{"other.example.net"}}, p.inter1)
	// A second generation of "Test Intermediate CA 2": same name, new key.
	inter2b := issue(t, testpki.Spec{CN: "Test Intermediate CA 2", IsCA: true}, p.inter1)
	// A CA without key identifiers, twice under one name, so only the
	// signature tells them apart.
	noIDa := issue(t, testpki.Spec{CN: "Test Legacy CA", IsCA: true, NoKeyIDs: true}, p.root)
	noIDb := issue(t, testpki.Spec{CN: "Test Legacy CA", IsCA: true, NoKeyIDs: true}, p.root)
	legacyLeaf := issue(t, testpki.Spec{CN: "legacy.example.com", DNS: []string{"legacy.example.com"}, NoKeyIDs: true}, noIDb)

	tests := []struct {
		name   string
		srcs   []bundle.Source
		chain  string
		extra  int
		noWarn bool
	}{
		{
			name:  "reversed, root first",
			srcs:  one("fullchain.pem", pemOf(p.root, p.inter1, p.inter2, p.deep), deepKey),
			chain: "deep.example.com > Test Intermediate CA 2 > Test Intermediate CA 1",
		},
		{
			name:  "shuffled over three files",
			srcs:  []bundle.Source{{Name: "a.pem", Data: pemOf(p.inter1)}, {Name: "b.pem", Data: cat(deepKey, pemOf(p.inter2))}, {Name: "c.pem", Data: pemOf(p.deep)}},
			chain: "deep.example.com > Test Intermediate CA 2 > Test Intermediate CA 1",
		},
		{
			name:  "duplicates dropped",
			srcs:  one("fullchain.pem", pemOf(p.inter2, p.deep, p.inter1, p.inter2, p.deep, p.root, p.root, p.inter1), deepKey),
			chain: "deep.example.com > Test Intermediate CA 2 > Test Intermediate CA 1",
		},
		{
			name:  "an unrelated certificate is set aside with a warning",
			srcs:  one("fullchain.pem", pemOf(unrelated, p.deep, p.inter2, p.inter1), deepKey),
			chain: "deep.example.com > Test Intermediate CA 2 > Test Intermediate CA 1", extra: 1,
		},
		{
			name:  "a CA of the same name but another key is not taken (key identifiers)",
			srcs:  one("fullchain.pem", pemOf(inter2b, p.deep, p.inter2, p.inter1), deepKey),
			chain: "deep.example.com > Test Intermediate CA 2 > Test Intermediate CA 1", extra: 1,
		},
		{
			name:  "no key identifiers: the signature picks the issuer",
			srcs:  one("bundle.pem", pemOf(noIDa, legacyLeaf, noIDb), keyPEM(t, legacyLeaf.Key, testpki.PKCS8)),
			chain: "legacy.example.com > Test Legacy CA", extra: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bundle.Parse(tt.srcs, p.opts())
			if err != nil {
				t.Fatal(err)
			}
			if got := subjects(b.Chain()); got != tt.chain {
				t.Errorf("chain = %s, want %s", got, tt.chain)
			}
			if len(b.Extra) != tt.extra {
				t.Errorf("Extra = %s, want %d certificates", subjects(b.Extra), tt.extra)
			}
			if (tt.extra > 0) != (len(b.Warnings) > 0) {
				t.Errorf("warnings = %q with %d extra certificates", b.Warnings, tt.extra)
			}
			if err := b.Validate(p.opts()); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
	t.Run("the one with the right signature is the issuer, not the first", func(t *testing.T) {
		b, err := bundle.Parse(one("bundle.pem", pemOf(noIDa, legacyLeaf, noIDb), keyPEM(t, legacyLeaf.Key, testpki.PKCS8)), p.opts())
		if err != nil {
			t.Fatal(err)
		}
		if !b.Intermediates[0].Equal(noIDb.Cert) {
			t.Error("the chain took the CA that did not sign the leaf")
		}
	})
}

func TestValidateMissingIntermediate(t *testing.T) {
	p := fixture(t)
	deepKey := keyPEM(t, p.deep.Key, testpki.PKCS8)
	tests := []struct {
		name    string
		data    []byte
		allow   bool
		missing string
	}{
		{"leaf alone", pemOf(p.deep), false, "Test Intermediate CA 2"},
		{"middle intermediate missing", pemOf(p.deep, p.inter1), false, "Test Intermediate CA 2"},
		{"top intermediate missing", pemOf(p.inter2, p.deep), false, "Test Intermediate CA 1"},
		{"top intermediate missing, root present", pemOf(p.inter2, p.deep, p.root), false, "Test Intermediate CA 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bundle.Parse(one("bundle.pem", tt.data, deepKey), p.opts())
			if err != nil {
				t.Fatal(err)
			}
			o := p.opts()
			o.AllowUntrusted = tt.allow
			err = b.Validate(o)
			if err == nil {
				t.Fatal("Validate accepted an incomplete chain")
			}
			checkError(t, err, bundle.ErrMissingIntermediate, []string{fmt.Sprintf("issuer %q", tt.missing), "add the intermediate"}, p.deep.Key)
		})
	}
}

// TestValidateAllowUntrustedMissingRoot: with allowUntrusted, a private
// CA's usual bundle (leaf and intermediate, root not at hand) is not
// refused as "missing intermediate". With no root to check against, a
// missing root and a missing intermediate look the same: it is accepted
// with a warning that says so.
func TestValidateAllowUntrustedMissingRoot(t *testing.T) {
	p := fixture(t)
	o := p.opts()
	o.Roots, o.AllowUntrusted = nil, true
	for _, tt := range []struct {
		name    string
		data    []byte
		key     *testpki.Cert
		missing string
	}{
		{"leaf and intermediate, root absent", pemOf(p.leaf, p.inter1), p.leaf, "Test Root CA"},
		{"leaf and first intermediate, second absent", pemOf(p.deep, p.inter2), p.deep, "Test Intermediate CA 1"},
		{"leaf alone", pemOf(p.leaf), p.leaf, "Test Intermediate CA 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			keyBlock := keyPEM(t, tt.key.Key, testpki.PKCS8)
			b, err := bundle.Parse(one("bundle.pem", tt.data, keyBlock), o)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Validate(o); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0], fmt.Sprintf("issuer %q", tt.missing)) ||
				!strings.Contains(b.Warnings[0], "allowUntrusted") {
				t.Errorf("warnings = %q, want one naming the missing issuer %q and allowUntrusted", b.Warnings, tt.missing)
			}
		})
	}
	t.Run("without allowUntrusted it stays an error that names --trust-roots", func(t *testing.T) {
		o := o
		o.AllowUntrusted = false
		b, err := bundle.Parse(one("bundle.pem", pemOf(p.leaf, p.inter1), keyPEM(t, p.rsaKey, testpki.PKCS8)), o)
		if err != nil {
			t.Fatal(err)
		}
		checkError(t, b.Validate(o), bundle.ErrMissingIntermediate, []string{"--trust-roots", "CERTDROP_TRUST_ROOTS"}, p.rsaKey)
	})
}

// TestValidateCrossSignedChain is the Let's Encrypt "long chain" of
// 2021-2024: leaf, R3, and ISRG Root X1 cross-signed by DST Root CA X3,
// deployed where only the self-signed ISRG Root X1 is trusted. The chain
// verifies through the trusted root; the cross-sign's own issuer is
// missing, and that must not count as a missing intermediate.
func TestValidateCrossSignedChain(t *testing.T) {
	oldRoot := issue(t, testpki.Spec{CN: "Test Old Root", IsCA: true}, nil)
	newRootKey := newKey(t, testpki.P256)
	newRoot := issue(t, testpki.Spec{CN: "Test New Root", IsCA: true, Key: newRootKey}, nil)
	cross := issue(t, testpki.Spec{CN: "Test New Root", IsCA: true, Key: newRootKey}, oldRoot)
	r3 := issue(t, testpki.Spec{CN: "Test R3", IsCA: true}, newRoot)
	leaf := issue(t, testpki.Spec{CN: "example.com", DNS: []string{"example.com"}}, r3)
	key := keyPEM(t, leaf.Key, testpki.PKCS8)
	opts := func(roots ...*testpki.Cert) bundle.Options {
		o := bundle.Options{Now: func() time.Time { return testNow }, NoSystemRoots: true}
		for _, r := range roots {
			o.Roots = append(o.Roots, r.Cert)
		}
		return o
	}
	tests := []struct {
		name  string
		data  []byte
		opts  bundle.Options
		chain string
		want  error
	}{
		{"long chain, only the new root trusted", pemOf(leaf, r3, cross), opts(newRoot), "example.com > Test R3 > Test New Root", nil},
		{"long chain, only the old root trusted", pemOf(leaf, r3, cross), opts(oldRoot), "example.com > Test R3 > Test New Root", nil},
		{"long chain plus the self-signed root", pemOf(leaf, r3, cross, newRoot), opts(newRoot), "example.com > Test R3 > Test New Root", nil},
		{"short chain", pemOf(leaf, r3), opts(newRoot), "example.com > Test R3", nil},
		{"long chain, neither root trusted", pemOf(leaf, r3, cross), opts(), "example.com > Test R3 > Test New Root", bundle.ErrMissingIntermediate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bundle.Parse(one("fullchain.pem", tt.data, key), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := subjects(b.Chain()); got != tt.chain {
				t.Errorf("chain = %s, want %s", got, tt.chain)
			}
			err = b.Validate(tt.opts)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Validate = %v, want %v", err, tt.want)
			}
		})
	}
}
