// Package testpki issues throwaway certificates and keys for the bundle
// tests, the fuzz seeds and the generator of testdata/bundles. Nothing here
// is fit for real use: keys are generated fresh and never protected.
package testpki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// KeyKind names a key algorithm and size.
type KeyKind string

// The key kinds the tests use.
const (
	RSA2048 KeyKind = "RSA-2048"
	RSA1024 KeyKind = "RSA-1024"
	P256    KeyKind = "ECDSA-P256"
	P384    KeyKind = "ECDSA-P384"
	Ed25519 KeyKind = "Ed25519"
)

// NewKey generates a fresh key of the given kind.
func NewKey(kind KeyKind) (crypto.Signer, error) {
	switch kind {
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA1024:
		return rsa.GenerateKey(rand.Reader, 1024)
	case P256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case P384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("testpki: unknown key kind %q", kind)
}

// Spec describes a certificate to issue. Zero fields get defaults: a P-256
// key, validity from 2025-01-01 to 2045-01-01, serial from the CN.
type Spec struct {
	CN        string
	DNS       []string
	IsCA      bool
	NotBefore time.Time
	NotAfter  time.Time
	// Key is the subject's key; nil generates a P-256 key.
	Key crypto.Signer
	// Serial overrides the serial number.
	Serial *big.Int
	// NoKeyIDs leaves out the subject key identifier, as some old or
	// private CAs do. x509.CreateCertificate takes the authority key
	// identifier from the parent's subject key identifier, so what a
	// NoKeyIDs CA issues carries neither.
	NoKeyIDs bool
	// EKU overrides the extended key usage of a leaf (default serverAuth).
	EKU []x509.ExtKeyUsage
}

// Cert is an issued certificate with its private key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Default validity of the certificates Issue makes.
var (
	DefaultNotBefore = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	DefaultNotAfter  = time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Issue signs a certificate for s with parent, or self-signs it when parent
// is nil.
func Issue(s Spec, parent *Cert) (*Cert, error) {
	key := s.Key
	if key == nil {
		k, err := NewKey(P256)
		if err != nil {
			return nil, err
		}
		key = k
	}
	nb, na := s.NotBefore, s.NotAfter
	if nb.IsZero() {
		nb = DefaultNotBefore
	}
	if na.IsZero() {
		na = DefaultNotAfter
	}
	serial := s.Serial
	if serial == nil {
		var err error
		serial, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		if err != nil {
			return nil, err
		}
		serial.Add(serial, big.NewInt(1))
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: s.CN, Organization: []string{"certdrop demo"}},
		NotBefore:    nb,
		NotAfter:     na,
		DNSNames:     s.DNS,
	}
	if s.IsCA {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if _, ok := key.(*rsa.PrivateKey); ok {
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		if s.EKU != nil {
			tmpl.ExtKeyUsage = s.EKU
		}
	}
	skid, err := keyID(key.Public())
	if err != nil {
		return nil, err
	}
	if !s.NoKeyIDs {
		tmpl.SubjectKeyId = skid
	}
	signer, parentCert := key, tmpl
	if parent != nil {
		signer, parentCert = parent.Key, parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Cert{Cert: c, Key: key}, nil
}

// MustIssue is Issue for fixed inputs that cannot fail; it panics on error.
func MustIssue(s Spec, parent *Cert) *Cert {
	c, err := Issue(s, parent)
	if err != nil {
		panic(err)
	}
	return c
}

func keyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algo      asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

// PEM returns the certificate as a PEM block.
func (c *Cert) PEM() []byte { return CertPEM(c.Cert) }

// CertPEM encodes certificates as consecutive PEM blocks.
func CertPEM(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}

// KeyFormat is a way to write a private key as PEM.
type KeyFormat string

// The private-key encodings bundles come in.
const (
	PKCS8          KeyFormat = "PKCS#8"       // "PRIVATE KEY"
	PKCS1          KeyFormat = "PKCS#1"       // "RSA PRIVATE KEY"
	SEC1           KeyFormat = "SEC1"         // "EC PRIVATE KEY"
	SEC1WithParams KeyFormat = "SEC1+params"  // "EC PARAMETERS" then "EC PRIVATE KEY"
	LegacyEncrypt  KeyFormat = "Proc-Type"    // traditional form encrypted with a passphrase
	PKCS8Encrypted KeyFormat = "PKCS#8 PBES2" // "ENCRYPTED PRIVATE KEY"
)

// Passphrase encrypts the keys written as LegacyEncrypt or PKCS8Encrypted.
const Passphrase = "certdrop-demo"

// KeyDER returns the DER of a key in a format's encoding (PKCS#8 for the
// encrypted formats, before encryption).
func KeyDER(key crypto.Signer, f KeyFormat) ([]byte, error) {
	switch f {
	case PKCS1:
		k, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("testpki: PKCS#1 needs an RSA key")
		}
		return x509.MarshalPKCS1PrivateKey(k), nil
	case SEC1, SEC1WithParams:
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return nil, errors.New("testpki: SEC1 needs an ECDSA key")
		}
		return x509.MarshalECPrivateKey(k)
	default:
		return x509.MarshalPKCS8PrivateKey(key)
	}
}

// KeyPEM writes a private key in the given format.
func KeyPEM(key crypto.Signer, f KeyFormat) ([]byte, error) {
	der, err := KeyDER(key, f)
	if err != nil {
		return nil, err
	}
	switch f {
	case PKCS8:
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	case PKCS1:
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}), nil
	case SEC1:
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
	case SEC1WithParams:
		oid, err := curveOID(key.(*ecdsa.PrivateKey).Curve)
		if err != nil {
			return nil, err
		}
		params, err := asn1.Marshal(oid)
		if err != nil {
			return nil, err
		}
		out := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: params})
		return append(out, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})...), nil
	case LegacyEncrypt:
		return legacyEncrypt(key)
	case PKCS8Encrypted:
		return encryptPKCS8(der, []byte(Passphrase))
	}
	return nil, fmt.Errorf("testpki: unknown key format %q", f)
}

// MustKeyPEM is KeyPEM that panics on error.
func MustKeyPEM(key crypto.Signer, f KeyFormat) []byte {
	out, err := KeyPEM(key, f)
	if err != nil {
		panic(err)
	}
	return out
}

func curveOID(c elliptic.Curve) (asn1.ObjectIdentifier, error) {
	switch c {
	case elliptic.P256():
		return asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, nil
	case elliptic.P384():
		return asn1.ObjectIdentifier{1, 3, 132, 0, 34}, nil
	case elliptic.P521():
		return asn1.ObjectIdentifier{1, 3, 132, 0, 35}, nil
	}
	return nil, errors.New("testpki: unknown curve")
}
