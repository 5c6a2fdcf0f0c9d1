package bundle_test

import (
	"bytes"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/bundle/internal/testpki"
)

// benchPKI is an all-RSA-2048 chain, like a public CA's (Let's Encrypt's R10
// and R11 intermediates are RSA-2048): root → intermediate → leaf.
type benchPKI struct {
	root, inter, leaf *testpki.Cert
}

var (
	benchOnce sync.Once
	benchVal  *benchPKI
)

func benchFixture(b *testing.B) *benchPKI {
	b.Helper()
	benchOnce.Do(func() {
		p := fixture(b)
		rootKey, err := testpki.NewKey(testpki.RSA2048)
		if err != nil {
			panic(err)
		}
		interKey, err := testpki.NewKey(testpki.RSA2048)
		if err != nil {
			panic(err)
		}
		bp := &benchPKI{}
		bp.root = testpki.MustIssue(testpki.Spec{CN: "Bench Root", IsCA: true, Key: rootKey}, nil)
		bp.inter = testpki.MustIssue(testpki.Spec{CN: "Bench Intermediate", IsCA: true, Key: interKey}, bp.root)
		bp.leaf = testpki.MustIssue(testpki.Spec{CN: "example.com", DNS: []string{"example.com", "www.example.com"}, Key: p.rsaKey}, bp.inter)
		benchVal = bp
	})
	return benchVal
}

func (bp *benchPKI) opts() bundle.Options {
	return bundle.Options{
		Now:           func() time.Time { return testNow },
		Roots:         []*x509.Certificate{bp.root.Cert},
		NoSystemRoots: true,
	}
}

// BenchmarkParseValidate is the work done per deploy: parse a bundle of a
// 2048-bit RSA leaf, one intermediate and the key (PKCS#8, as certbot
// writes it), then validate it against a root given in Options.Roots.
func BenchmarkParseValidate(b *testing.B) {
	bp := benchFixture(b)
	srcs := []bundle.Source{
		{Name: "fullchain.pem", Data: pemOf(bp.leaf, bp.inter)},
		{Name: "privkey.pem", Data: keyPEM(b, bp.leaf.Key, testpki.PKCS8)},
	}
	opts := bp.opts()
	b.ReportAllocs()
	for b.Loop() {
		bd, err := bundle.Parse(srcs, opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := bd.Validate(opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseValidateParts splits the work above into its costs, and
// sets the RSA key parsing that crypto/x509 does (which checks the key's
// consistency and precomputes its CRT values) against the rest.
func BenchmarkParseValidateParts(b *testing.B) {
	bp := benchFixture(b)
	chain := pemOf(bp.leaf, bp.inter)
	keyPKCS8 := keyPEM(b, bp.leaf.Key, testpki.PKCS8)
	keyPKCS1 := keyPEM(b, bp.leaf.Key, testpki.PKCS1)
	pkcs1DER, err := testpki.KeyDER(bp.leaf.Key, testpki.PKCS1)
	if err != nil {
		b.Fatal(err)
	}
	opts := bp.opts()
	parsed, err := bundle.Parse(one("b.pem", chain, keyPKCS8), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Parse/PKCS8", func(b *testing.B) {
		for b.Loop() {
			if _, err := bundle.Parse(one("b.pem", chain, keyPKCS8), opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parse/PKCS1", func(b *testing.B) {
		for b.Loop() {
			if _, err := bundle.Parse(one("b.pem", chain, keyPKCS1), opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parse/certificates-only", func(b *testing.B) {
		for b.Loop() {
			if _, err := bundle.Parse(one("b.pem", chain), opts); err == nil {
				b.Fatal("Parse accepted a bundle without a key")
			}
		}
	})
	b.Run("x509.ParsePKCS1PrivateKey", func(b *testing.B) {
		for b.Loop() {
			if _, err := x509.ParsePKCS1PrivateKey(pkcs1DER); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Validate", func(b *testing.B) {
		for b.Loop() {
			if err := parsed.Validate(opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Validate/system-roots", func(b *testing.B) {
		o := opts
		o.NoSystemRoots = false
		for b.Loop() {
			if err := parsed.Validate(o); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParseWorstCase parses inputs at the 1 MiB cap shaped to be slow:
// thousands of tiny blocks, and thousands of copies of one certificate. The
// cost must stay linear in the input.
func BenchmarkParseWorstCase(b *testing.B) {
	p := fixture(b)
	key := keyPEM(b, p.leafEC.Key, testpki.SEC1)
	fill := func(unit []byte) []byte {
		n := (bundle.DefaultMaxSize - len(key) - len(p.leafEC.PEM())) / len(unit)
		return cat(p.leafEC.PEM(), key, bytes.Repeat(unit, n))
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"tiny-blocks", fill([]byte("-----BEGIN A-----\n-----END A-----\n"))},
		{"same-certificate", fill(p.inter1.PEM())},
		{"same-key", fill(key)},
		{"text", fill([]byte("subject=CN = example.com\n"))},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				if _, err := bundle.Parse(one("big.pem", c.data), bundle.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
