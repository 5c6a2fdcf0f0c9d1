package bundle_test

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/bundle/internal/testpki"
)

// pki is the test CA: root → inter1 → inter2, with leaves under each.
type pki struct {
	root, inter1, inter2 *testpki.Cert
	rsaKey               *rsa.PrivateKey
	// leaf: RSA-2048, example.com + www.example.com, issued by inter1.
	leaf *testpki.Cert
	// leafEC: ECDSA P-256, same names, issued by inter1.
	leafEC *testpki.Cert
	// deep: ECDSA P-256, deep.example.com, issued by inter2.
	deep *testpki.Cert
}

var (
	fixtureOnce sync.Once
	fixtureVal  *pki
)

// fixture builds the test CA once per test binary: RSA key generation is
// the slow part, and nothing mutates the result.
func fixture(tb testing.TB) *pki {
	tb.Helper()
	fixtureOnce.Do(func() {
		k, err := testpki.NewKey(testpki.RSA2048)
		if err != nil {
			panic(err)
		}
		p := &pki{rsaKey: k.(*rsa.PrivateKey)}
		p.root = testpki.MustIssue(testpki.Spec{CN: "Test Root CA", IsCA: true}, nil)
		p.inter1 = testpki.MustIssue(testpki.Spec{CN: "Test Intermediate CA 1", IsCA: true}, p.root)
		p.inter2 = testpki.MustIssue(testpki.Spec{CN: "Test Intermediate CA 2", IsCA: true}, p.inter1)
		p.leaf = testpki.MustIssue(testpki.Spec{CN: "example.com", DNS: []string{"example.com", "www.example.com"}, Key: p.rsaKey}, p.inter1)
		p.leafEC = testpki.MustIssue(testpki.Spec{CN: "example.com", DNS: []string{"example.com", "www.example.com"}}, p.inter1)
		p.deep = testpki.MustIssue(testpki.Spec{CN: "deep.example.com", DNS: []string{"deep.example.com"}}, p.inter2)
		fixtureVal = p
	})
	if fixtureVal == nil {
		tb.Fatal("test PKI could not be built")
	}
	return fixtureVal
}

// testNow is the fixed clock of the tests: inside every default validity.
var testNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// opts trusts only the test root, at testNow.
func (p *pki) opts() bundle.Options {
	return bundle.Options{
		Now:           func() time.Time { return testNow },
		Roots:         []*x509.Certificate{p.root.Cert},
		NoSystemRoots: true,
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func one(name string, parts ...[]byte) []bundle.Source {
	return []bundle.Source{{Name: name, Data: cat(parts...)}}
}

func keyPEM(tb testing.TB, k crypto.Signer, f testpki.KeyFormat) []byte {
	tb.Helper()
	out, err := testpki.KeyPEM(k, f)
	if err != nil {
		tb.Fatalf("encode key as %s: %v", f, err)
	}
	return out
}

func newKey(tb testing.TB, kind testpki.KeyKind) crypto.Signer {
	tb.Helper()
	k, err := testpki.NewKey(kind)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func issue(tb testing.TB, s testpki.Spec, parent *testpki.Cert) *testpki.Cert {
	tb.Helper()
	c, err := testpki.Issue(s, parent)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func pemOf(certs ...*testpki.Cert) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, c.PEM()...)
	}
	return out
}

// subjects lists the CNs of a chain, for comparing orders.
func subjects(certs []*x509.Certificate) string {
	var names []string
	for _, c := range certs {
		names = append(names, c.Subject.CommonName)
	}
	return strings.Join(names, " > ")
}

// leaksKey reports whether s carries any of the keys' material: a private
// key PEM marker, or 16 consecutive characters of the base64 of one of the
// key's DER encodings. It returns what matched, never the text around it,
// so a failing test does not print the key either.
func leaksKey(s string, keys ...crypto.Signer) string {
	if strings.Contains(s, "PRIVATE KEY-----") {
		return "a PRIVATE KEY PEM marker"
	}
	for _, k := range keys {
		for _, f := range []testpki.KeyFormat{testpki.PKCS8, testpki.PKCS1, testpki.SEC1} {
			der, err := testpki.KeyDER(k, f)
			if err != nil {
				continue
			}
			b64 := base64.StdEncoding.EncodeToString(der)
			const window = 16
			for i := 0; i+window <= len(b64); i++ {
				if strings.Contains(s, b64[i:i+window]) {
					return "base64 of the " + string(f) + " key DER"
				}
			}
		}
	}
	return ""
}
