package bundle

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle/internal/testpki"
)

// hostile is a set of inputs at the size cap shaped to make Parse and Split
// slow, built once per test binary.
type hostile struct {
	name string
	srcs []Source
}

var (
	hostileOnce sync.Once
	hostileVal  []hostile
)

func hostileInputs(tb testing.TB) []hostile {
	tb.Helper()
	hostileOnce.Do(func() {
		must := func(c *testpki.Cert, err error) *testpki.Cert {
			if err != nil {
				panic(err)
			}
			return c
		}
		keyPEM := func(c *testpki.Cert, f testpki.KeyFormat) []byte {
			out, err := testpki.KeyPEM(c.Key, f)
			if err != nil {
				panic(err)
			}
			return out
		}
		fill := func(unit func(i int) []byte) []byte {
			var buf bytes.Buffer
			for i := 0; ; i++ {
				u := unit(i)
				if buf.Len()+len(u) > DefaultMaxSize-4096 {
					return buf.Bytes()
				}
				buf.Write(u)
			}
		}
		// 1,500 certificates sharing one name (no key
		// identifiers, so nothing but signatures tells them apart).
		var same []byte
		for i := 0; i < 1500; i++ {
			same = append(same, must(testpki.Issue(testpki.Spec{CN: "same.example.com", DNS: []string{"same.example.com"}, NoKeyIDs: true, IsCA: true}, nil)).PEM()...)
		}
		// Within the caps: MaxBundles leaves, each with its key, all
		// naming one issuer of which there are many candidates without
		// key identifiers (so the identifiers cannot rule them out), none
		// of them the real one. (Go gives every CA certificate it makes a
		// subject key identifier, so the decoys are not CAs.)
		realCA := must(testpki.Issue(testpki.Spec{CN: "Evil CA", NoKeyIDs: true, IsCA: true}, nil))
		var crowd []Source
		for i := 0; i < MaxBundles; i++ {
			leaf := must(testpki.Issue(testpki.Spec{CN: fmt.Sprintf("l%d.example.com", i), DNS: []string{fmt.Sprintf("l%d.example.com", i)}}, realCA))
			crowd = append(crowd, Source{Name: fmt.Sprintf("l%d.pem", i), Data: append(leaf.PEM(), keyPEM(leaf, testpki.PKCS8)...)})
		}
		var decoys []byte
		for i := 0; i < MaxSplitCertificates-MaxBundles; i++ {
			decoys = append(decoys, must(testpki.Issue(testpki.Spec{CN: "Evil CA", NoKeyIDs: true}, nil)).PEM()...)
		}
		crowd = append(crowd, Source{Name: "decoys.pem", Data: decoys})
		// The most certificates one bundle may hold, all one name.
		leaf := must(testpki.Issue(testpki.Spec{CN: "one.example.com", DNS: []string{"one.example.com"}}, realCA))
		single := append(leaf.PEM(), keyPEM(leaf, testpki.SEC1)...)
		for i := 0; i < MaxCertificates-1; i++ {
			single = append(single, must(testpki.Issue(testpki.Spec{CN: "Evil CA", NoKeyIDs: true}, nil)).PEM()...)
		}
		// Many distinct keys, and one key in many encodings.
		var keys []byte
		keys = fill(func(int) []byte {
			return keyPEM(must(testpki.Issue(testpki.Spec{CN: "k"}, nil)), testpki.SEC1)
		})
		enc := []testpki.KeyFormat{testpki.PKCS8, testpki.SEC1, testpki.SEC1WithParams}
		oneKey := fill(func(i int) []byte { return keyPEM(leaf, enc[i%len(enc)]) })
		// One certificate with as many names as fit.
		var many []string
		for i := 0; i < 35000; i++ {
			many = append(many, fmt.Sprintf("n%d.example.com", i))
		}
		big := must(testpki.Issue(testpki.Spec{CN: "big.example.com", DNS: many}, realCA))
		// The slowest signatures accepted (P-384; P-521 is refused)
		// everywhere: MaxBundles leaves under the longest chain, every
		// bundle to be validated.
		p384 := func() *ecdsa.PrivateKey {
			k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			if err != nil {
				panic(err)
			}
			return k
		}
		parent := must(testpki.Issue(testpki.Spec{CN: "P-384 root", IsCA: true, Key: p384()}, nil))
		var slowChain []byte
		for i := 0; i < MaxCertificates-1; i++ {
			parent = must(testpki.Issue(testpki.Spec{CN: fmt.Sprintf("P-384 CA %d", i), IsCA: true, Key: p384()}, parent))
			slowChain = append(parent.PEM(), slowChain...)
		}
		var slow []Source
		for i := 0; i < MaxBundles; i++ {
			leaf := must(testpki.Issue(testpki.Spec{CN: fmt.Sprintf("s%d.example.com", i), DNS: []string{fmt.Sprintf("s%d.example.com", i)}, Key: p384()}, parent))
			slow = append(slow, Source{Name: fmt.Sprintf("s%d.pem", i), Data: append(leaf.PEM(), keyPEM(leaf, testpki.PKCS8)...)})
		}
		slow = append(slow, Source{Name: "chain.pem", Data: slowChain})
		hostileVal = []hostile{
			{"MaxBundles P-384 bundles under the longest chain", slow},
			{"1500 certificates, one name", []Source{{Name: "same.pem", Data: same}}},
			{"MaxBundles leaves and a crowd of false issuers", crowd},
			{"MaxCertificates of one name", []Source{{Name: "single.pem", Data: single}}},
			{"distinct keys to the cap", []Source{{Name: "keys.pem", Data: keys}}},
			{"one key in alternating encodings", []Source{{Name: "key.pem", Data: append(leaf.PEM(), oneKey...)}}},
			{"35000 names", []Source{{Name: "big.pem", Data: append(big.PEM(), keyPEM(big, testpki.PKCS8)...)}}},
		}
	})
	return hostileVal
}

// TestWorkIsBounded: a 1 MiB PEM of 1,500 certificates sharing one name
// costs 156 s of CPU if chain ordering checks signatures pairwise.
// Whatever the input, Parse and Split parse at most their caps of certificates and keys and check at most
// maxSignatureChecks signatures; this counts the work instead of timing it
// (BenchmarkHostileInputs times it).
func TestWorkIsBounded(t *testing.T) {
	opts := Options{NoSystemRoots: true, Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }}
	for _, h := range hostileInputs(t) {
		t.Run(h.name, func(t *testing.T) {
			var total int
			for _, s := range h.srcs {
				total += len(s.Data)
			}
			if total > DefaultMaxSize {
				t.Fatalf("input is %d bytes, over the cap: the test would not exercise the parser", total)
			}
			check := func(what string, p *pool, maxCerts, maxKeys int) {
				t.Helper()
				if p == nil {
					return
				}
				if len(p.certs) > maxCerts || p.keyBlocks > maxKeyBlocksPerKey*maxKeys || p.sigChecks > maxSignatureChecks {
					t.Errorf("%s: %d certificates, %d key blocks parsed, %d signatures checked; bounds %d, %d, %d",
						what, len(p.certs), p.keyBlocks, p.sigChecks, maxCerts, maxKeyBlocksPerKey*maxKeys, maxSignatureChecks)
				}
				t.Logf("%s: %d certificates, %d key blocks, %d signatures", what, len(p.certs), p.keyBlocks, p.sigChecks)
			}
			b, p, err := parse(context.Background(), h.srcs, opts)
			check("Parse", p, MaxCertificates, 1)
			if err == nil {
				if verr := b.Validate(opts); verr == nil {
					t.Log("Parse and Validate accepted it")
				}
			}
			f, p, err := split(context.Background(), h.srcs, opts)
			check("Split", p, MaxSplitCertificates, MaxBundles)
			if err == nil {
				for _, b := range f.Bundles {
					_ = b.Validate(opts)
				}
			}
		})
	}
	t.Run("the issue's input is refused as too large", func(t *testing.T) {
		var in []Source
		for _, h := range hostileInputs(t) {
			if h.name == "1500 certificates, one name" {
				in = h.srcs
			}
		}
		if _, err := Parse(in, opts); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Parse = %v, want ErrTooLarge", err)
		}
		if _, err := Split(context.Background(), in, opts); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Split = %v, want ErrTooLarge", err)
		}
	})
}

// BenchmarkHostileInputs times Parse and Split, and Validate of what they
// accept, on the inputs of TestWorkIsBounded. Each must stay well under a
// second.
func BenchmarkHostileInputs(b *testing.B) {
	opts := Options{NoSystemRoots: true, Roots: []*x509.Certificate{}, Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }}
	for _, h := range hostileInputs(b) {
		b.Run("Parse/"+h.name, func(b *testing.B) {
			for b.Loop() {
				if bd, err := Parse(h.srcs, opts); err == nil {
					_ = bd.Validate(opts)
				}
			}
		})
		b.Run("Split/"+h.name, func(b *testing.B) {
			for b.Loop() {
				if f, err := Split(context.Background(), h.srcs, opts); err == nil {
					for _, bd := range f.Bundles {
						_ = bd.Validate(opts)
					}
				}
			}
		})
	}
}
