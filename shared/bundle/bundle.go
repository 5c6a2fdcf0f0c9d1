// Package bundle reads a renewed TLS certificate bundle (one combined PEM
// file, or the files of one folder), checks it before anything is deployed,
// and renders it in the forms the Alibaba Cloud CDN, VOD and Live APIs take.
//
// Parse does the structural work: PEM and DER decoding, finding the one
// private key and the leaf it belongs to, and ordering the chain. Validate
// then checks the validity window and the chain of trust. Every rejection is
// an *Error wrapping one of the Err* sentinels; none carries key material.
package bundle

import (
	"bytes"
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
	// Sources names the inputs the bundle was read from.
	Sources []string
	// Warnings are things a person should know that do not stop a deploy.
	Warnings []string

	key  crypto.Signer
	root *x509.Certificate // the self-signed root, when the input carried it
	// parseWarnings are the warnings Parse found; Validate starts
	// b.Warnings from them each time it runs.
	parseWarnings []string
}

// Parse reads a bundle from its sources. The sources may come in any order
// and each may hold any mix of certificates and keys: one combined file, or
// every file of a folder (certbot's cert.pem, chain.pem, fullchain.pem and
// privkey.pem at once; acme.sh's <domain>.cer, <domain>.key, ca.cer and
// fullchain.cer). Text sources without PEM blocks (certbot's README) are
// skipped. Parse checks structure only; call Validate to check validity
// dates and trust. Every error is an *Error wrapping one of the sentinels.
func Parse(srcs []Source, opts Options) (*Bundle, error) {
	maxSize := opts.maxSize()
	var total int64
	for _, s := range srcs {
		total += int64(len(s.Data))
	}
	if total > maxSize {
		return nil, newError(ErrTooLarge, "",
			fmt.Sprintf("the bundle is %d bytes, over the %d-byte limit", total, maxSize),
			"a certificate bundle is a few kilobytes: check that the right files were given")
	}

	b := &Bundle{}
	var certs []*x509.Certificate
	seen := map[string]bool{}
	var keySource string
	var keyDER []byte
	for _, s := range srcs {
		b.Sources = append(b.Sources, s.Name)
		blocks, err := decodeBlocks(s)
		if err != nil {
			return nil, err
		}
		var ignored []string
		for _, blk := range blocks {
			switch {
			case blk.Type == "CERTIFICATE":
				c, err := x509.ParseCertificate(blk.Bytes)
				if err != nil {
					return nil, newError(ErrMalformed, s.Name,
						fmt.Sprintf("the certificate at line %d cannot be parsed: %s", blk.line, sanitize(err)),
						"the file is damaged or is not a certificate: export it again")
				}
				fp := Fingerprint(c)
				if !seen[fp] {
					seen[fp] = true
					certs = append(certs, c)
				}
			case isKeyBlock(blk.Type):
				if keyDER != nil && blk.Type != "ENCRYPTED PRIVATE KEY" && len(blk.Headers) == 0 && bytes.Equal(blk.Bytes, keyDER) {
					continue // the same key again (privkey.pem and a combined file)
				}
				k, err := parseKey(s.Name, blk)
				if err != nil {
					return nil, err
				}
				if b.key != nil {
					if !samePublicKey(b.key.Public(), k.Public()) {
						return nil, newError(ErrMultipleKeys, s.Name,
							fmt.Sprintf("the private key at line %d differs from the one already read from %s", blk.line, keySource),
							"a bundle carries exactly one private key: remove the stale one")
					}
					continue
				}
				b.key, keySource, keyDER = k, s.Name, blk.Bytes
			case blk.Type == "EC PARAMETERS":
				// openssl ecparam -genkey writes these before the key; the key
				// names its own curve.
			default:
				ignored = append(ignored, fmt.Sprintf("%s at line %d", blockLabel([]byte(blk.Type+"-----")), blk.line))
			}
		}
		if len(ignored) > 0 {
			b.Warnings = append(b.Warnings, fmt.Sprintf("%s: ignored %d block(s) that are neither certificates nor keys: %s",
				s.Name, len(ignored), listSome(ignored)))
		}
	}
	if len(certs) == 0 {
		return nil, newError(ErrNoCertificate, strings.Join(b.Sources, ", "),
			"no certificate found",
			"include the certificate (fullchain.pem, <domain>.cer or cert.pem)")
	}
	if b.key == nil {
		return nil, newError(ErrNoKey, strings.Join(b.Sources, ", "),
			"no private key found",
			"include the private key (privkey.pem or <domain>.key)")
	}
	b.Leaf = pickLeaf(certs, b.key)
	if b.Leaf == nil {
		return nil, newError(ErrKeyMismatch, keySource,
			fmt.Sprintf("the %s private key matches none of the %d certificate(s) (%s)",
				publicKeyType(b.key.Public()), len(certs), certNames(certs)),
			"the certificate and key come from different renewals: use the key that was generated with this certificate")
	}
	if rk, ok := b.key.(*rsa.PrivateKey); ok && rk.N.BitLen() < 2048 {
		b.Warnings = append(b.Warnings, fmt.Sprintf("the key is %s: use 2048 bits or more", b.KeyType()))
	}
	b.Intermediates, b.Extra, b.root = orderChain(b.Leaf, certs)
	if len(b.Extra) > 0 {
		b.Warnings = append(b.Warnings, fmt.Sprintf("ignored %d certificate(s) not on the chain of %s (%s)",
			len(b.Extra), leafName(b.Leaf), certNames(b.Extra)))
	}
	b.parseWarnings = append([]string(nil), b.Warnings...)
	return b, nil
}

// pickLeaf returns the certificate for key. When several do (a renewal that
// reused the key, next to the old certificate), it prefers one that is not
// a CA and then the most recently issued.
func pickLeaf(certs []*x509.Certificate, key crypto.Signer) *x509.Certificate {
	var leaf *x509.Certificate
	for _, c := range certs {
		if !samePublicKey(key.Public(), c.PublicKey) {
			continue
		}
		switch {
		case leaf == nil,
			leaf.IsCA && !c.IsCA,
			leaf.IsCA == c.IsCA && c.NotBefore.After(leaf.NotBefore):
			leaf = c
		}
	}
	return leaf
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
		names[i] = "CN=" + c.Subject.CommonName
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
