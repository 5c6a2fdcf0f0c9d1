// Package bundle reads a renewed TLS certificate bundle (one combined PEM
// file, or the files of one folder), checks it before anything is deployed,
// and renders it in the forms the Alibaba Cloud certificate APIs take.
//
// Parse does the structural work: PEM and DER decoding, finding the one
// private key and the leaf it belongs to, and ordering the chain. Split does
// it for a folder of several bundles (lego's certificates/), pairing each
// key with its leaf and saying what pairs with nothing. Validate then checks
// the validity window, the names, the APIs' limits and the chain of trust.
// Every rejection is an *Error wrapping one of the Err* sentinels, and
// IsIncomplete tells a bundle still arriving from a broken one; none
// carries key material. The work on any input is bounded (see limits.go).
package bundle

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
)

// DefaultMaxSize caps the total size of a bundle's inputs: a real bundle is a
// few kilobytes, and the cap keeps a stray upload from being parsed at all.
const DefaultMaxSize = 1 << 20

// Source is one input to a bundle: a file or an object, by name, and its
// bytes. The name appears in error messages; the data never does.
type Source struct {
	Name string
	Data []byte
}

// Bundle is a parsed bundle: one private key, the leaf certificate it belongs
// to, and the intermediates that chain the leaf towards a root, in order.
type Bundle struct {
	// Leaf is the certificate whose public key matches the private key.
	Leaf *x509.Certificate
	// Intermediates chain Leaf towards a root, each issuing the one before;
	// duplicates and self-signed roots are dropped.
	Intermediates []*x509.Certificate
	// Extra are certificates in the input that are not on the leaf's chain
	// (an old certificate, another site's); Parse warns about them and they
	// are never deployed.
	Extra []*x509.Certificate
	// Sources names the inputs the bundle was read from: all of Parse's,
	// or the files that formed this bundle of a Split.
	Sources []string
	// Warnings are things a person should know that do not stop a deploy.
	Warnings []string

	key  crypto.Signer
	root *x509.Certificate // the self-signed root, when the input carried it
	// parseWarnings are the warnings Parse found; Validate starts
	// b.Warnings from them each time it runs.
	parseWarnings []string
	// selfContained: one source held the key and the leaf together.
	selfContained bool
}

// Parse reads a bundle from its sources. The sources may come in any order
// and each may hold any mix of certificates and keys: one combined file, or
// every file of a folder (certbot's cert.pem, chain.pem, fullchain.pem and
// privkey.pem at once; acme.sh's <domain>.cer, <domain>.key, ca.cer and
// fullchain.cer). Text sources without PEM blocks (certbot's README) are
// skipped. Parse checks structure only; call Validate to check validity
// dates and trust. Every error is an *Error wrapping one of the sentinels;
// IsIncomplete tells the errors another file may still resolve (no key, no
// certificate, a key and a certificate from different files that do not
// match) from the rest. A folder of several bundles (lego's certificates/)
// is Split's.
//
// The sources may hold at most MaxCertificates distinct certificates, and
// one private key (in any number of copies).
func Parse(srcs []Source, opts Options) (*Bundle, error) {
	return ParseContext(context.Background(), srcs, opts)
}

// ParseContext is Parse, giving up with ctx's error once ctx is done (it
// checks between blocks and before each signature check).
func ParseContext(ctx context.Context, srcs []Source, opts Options) (*Bundle, error) {
	b, _, err := parse(ctx, srcs, opts)
	return b, err
}

// parse is ParseContext, also returning the pool for tests that count its
// work.
func parse(ctx context.Context, srcs []Source, opts Options) (*Bundle, *pool, error) {
	p := newPool(ctx, srcs, opts, true)
	if err := p.read(); err != nil {
		return nil, p, err
	}
	all := make([]int, len(srcs))
	for i := range all {
		all[i] = i
	}
	everyName := func() string {
		names := p.names(all)
		for i, n := range names {
			names[i] = shorten(n, maxEcho)
		}
		return listSome(names)
	}
	if len(p.certs) == 0 {
		e := newError(ErrNoCertificate, everyName(),
			"no certificate found",
			"include the certificate (fullchain.pem, <domain>.cer or cert.pem)")
		e.Incomplete = true
		return nil, p, e
	}
	if len(p.keys) == 0 {
		e := newError(ErrNoKey, everyName(),
			"no private key found",
			"include the private key (privkey.pem or <domain>.key)")
		e.Incomplete = true
		return nil, p, e
	}
	key := p.keys[0]
	leaf := p.leafFor(key.key)
	if leaf == nil {
		return nil, p, p.mismatch(key, p.certs)
	}
	chain, root, err := p.chainOf(leaf)
	if err != nil {
		return nil, p, err
	}
	return p.bundle(key, leaf, chain, root, all, nil), p, nil
}

// mismatch is the error for a key that matches none of certs. It is
// incomplete unless one source holds the key and a leaf (a certificate
// that is not a CA) together: such a file was written whole, with a key
// that will never match, while a key and a certificate from different
// files may be two halves of two renewals, one of them still uploading.
func (p *pool) mismatch(key *poolKey, certs []*poolCert) *Error {
	var names []*x509.Certificate
	for _, c := range certs {
		if !p.unusable(c) {
			names = append(names, c.cert)
		}
	}
	src := p.srcs[key.sources[0]].Name
	e := newError(ErrKeyMismatch, src,
		fmt.Sprintf("the %s private key matches none of the %d certificate(s) (%s)",
			publicKeyType(key.key.Public()), len(names), certNames(names)),
		"the certificate and key come from different renewals: use the key that was generated with this certificate")
	e.Incomplete = true
	for _, i := range key.sources {
		for _, c := range certs {
			if c.heldBy(i) && !c.cert.IsCA {
				e.Source, e.Incomplete = p.srcs[i].Name, false
			}
		}
	}
	return e
}

// bundle assembles the Bundle of key and leaf, read from the sources srcs.
// Certificates those sources hold that are neither on the chain nor a root
// nor in others (what belongs to other bundles of a Split) are Extra.
func (p *pool) bundle(key *poolKey, leaf *poolCert, chain []*poolCert, root *poolCert, srcs []int, others map[*poolCert]bool) *Bundle {
	b := &Bundle{Leaf: leaf.cert, key: key.key, Sources: p.names(srcs)}
	onChain := map[*poolCert]bool{leaf: true}
	for _, c := range chain {
		b.Intermediates = append(b.Intermediates, c.cert)
		onChain[c] = true
	}
	if root != nil {
		b.root = root.cert
		onChain[root] = true
	}
	in := map[int]bool{}
	for _, i := range srcs {
		in[i] = true
		b.Warnings = append(b.Warnings, p.warnings[i]...)
	}
	if rk, ok := key.key.(*rsa.PrivateKey); ok && rk.N.BitLen() < 2048 {
		b.Warnings = append(b.Warnings, fmt.Sprintf("the key is %s: use 2048 bits or more", b.KeyType()))
	}
	for _, c := range p.certs {
		if onChain[c] || others[c] || p.unusable(c) || isSelfIssued(c.cert) {
			continue
		}
		for _, i := range c.sources {
			if in[i] {
				b.Extra = append(b.Extra, c.cert)
				break
			}
		}
	}
	if len(b.Extra) > 0 {
		b.Warnings = append(b.Warnings, fmt.Sprintf("ignored %d certificate(s) not on the chain of %s (%s)",
			len(b.Extra), leafName(b.Leaf), certNames(b.Extra)))
	}
	for _, i := range key.sources {
		if leaf.heldBy(i) {
			b.selfContained = true
		}
	}
	b.parseWarnings = append([]string(nil), b.Warnings...)
	return b
}

// Identity describes the leaf certificate.
func (b *Bundle) Identity() Identity { return identityOf(b.Leaf) }

// Chain returns the leaf followed by its intermediates.
func (b *Bundle) Chain() []*x509.Certificate {
	return append([]*x509.Certificate{b.Leaf}, b.Intermediates...)
}

// CertPEM renders the leaf and its intermediates as PEM with LF line
// endings: the certificate parameter (SSLPub, ServerCertificate) of the APIs.
func (b *Bundle) CertPEM() string {
	var buf bytes.Buffer
	for _, c := range b.Chain() {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.String()
}

// KeyPEM renders the private key in the traditional form the vendor's
// examples show ("RSA PRIVATE KEY" or "EC PRIVATE KEY"), LF line endings.
func (b *Bundle) KeyPEM() Secret {
	var blk *pem.Block
	switch k := b.key.(type) {
	case *rsa.PrivateKey:
		blk = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			// Only curves Parse accepted reach here, and those all marshal.
			panic("bundle: marshal EC key: " + err.Error())
		}
		blk = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	default:
		return Secret{} // a Bundle that Parse did not make
	}
	return Secret{s: string(pem.EncodeToMemory(blk))}
}

// KeyType describes the private key: "RSA-2048", "ECDSA-P256"; "" for a
// Bundle that Parse did not make.
func (b *Bundle) KeyType() string {
	if b.key == nil {
		return ""
	}
	return publicKeyType(b.key.Public())
}

func certNames(certs []*x509.Certificate) string {
	names := make([]string, len(certs))
	for i, c := range certs {
		names[i] = "CN=" + quoteName(c.Subject.CommonName)
	}
	return listSome(names)
}

// listSome joins the first three items and says how many more there are.
func listSome(items []string) string {
	if len(items) > 3 {
		return strings.Join(items[:3], ", ") + fmt.Sprintf(" and %d more", len(items)-3)
	}
	return strings.Join(items, ", ")
}
