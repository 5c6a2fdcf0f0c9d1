package bundle

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"time"
)

// Identity is what names a certificate to people and to the APIs: the
// fingerprint that tells two certificates apart, and the fields a person
// checks before deploying. It holds no key material.
type Identity struct {
	// Fingerprint is the lower-case hex SHA-256 of the leaf's DER.
	Fingerprint string `json:"fingerprint"`
	// Serial is the leaf's serial number in lower-case hex.
	Serial     string    `json:"serial"`
	NotBefore  time.Time `json:"notBefore"`
	NotAfter   time.Time `json:"notAfter"`
	CommonName string    `json:"subject"`
	SANs       []string  `json:"sans"`
	Issuer     string    `json:"issuer"`
	// KeyType is "RSA-2048", "ECDSA-P256" and so on.
	KeyType string `json:"keyType"`
}

// Fingerprint returns the lower-case hex SHA-256 of a certificate's DER.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

func identityOf(leaf *x509.Certificate) Identity {
	return Identity{
		Fingerprint: Fingerprint(leaf),
		Serial:      strings.ToLower(leaf.SerialNumber.Text(16)),
		NotBefore:   leaf.NotBefore.UTC(),
		NotAfter:    leaf.NotAfter.UTC(),
		CommonName:  leaf.Subject.CommonName,
		SANs:        append([]string(nil), leaf.DNSNames...),
		Issuer:      describeName(leaf.Issuer.CommonName, leaf.Issuer.String()),
		KeyType:     publicKeyType(leaf.PublicKey),
	}
}

func describeName(cn, full string) string {
	if cn != "" {
		return cn
	}
	return full
}
