package cloudsim

import (
	"crypto/x509"
	"encoding/pem"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
)

// Domain states a registered domain can be in.
const (
	StateOnline      = "online"
	StateOffline     = "offline"
	StateConfiguring = "configuring"
	StateSafeMode    = "safemode"
)

// DomainCert is the certificate configuration a domain carries in the
// emulator, as a Describe call would report it. It holds no private key.
type DomainCert struct {
	// CertName is the certificate's name; empty when none was ever set.
	CertName string
	// CertID is the certificate's ID in Certificate Management Service
	// (the cn-hangzhou store for an upload; the referenced store for
	// CertType cas).
	CertID int64
	// CertPEM is the certificate chain as uploaded; empty when the domain
	// was seeded without one.
	CertPEM string
	// Fingerprint is the lower-case hex SHA-256 of the leaf, when known.
	Fingerprint string
	NotBefore   time.Time
	NotAfter    time.Time
	// CommonName and Issuer describe the leaf, when known.
	CommonName string
	Issuer     string
	// HTTPS reports whether SSLProtocol (ServerCertificateStatus) is on.
	HTTPS bool
	// Updated is when the configuration was last set.
	Updated time.Time
	// CertType is "upload", or "cas" for a certificate set by reference.
	CertType string
	// CertRegion is the CertRegion parameter of the last Set, if any; for
	// a certificate set by reference, the CAS region it came from.
	CertRegion string
}

// domainEntry is one registered domain of one product.
type domainEntry struct {
	state string
	prod  DomainCert
	// staging is what Env=staging installed; Describe reports prod.
	staging *DomainCert
}

// certRecord is one name in the account's certificate-name registry.
type certRecord struct {
	id          int64
	fingerprint string // "" when seeded without PEM
}

// registry holds the account's domains and certificate names.
type registry struct {
	mu      sync.Mutex
	domains map[string]*domainEntry // product + "/" + domain name
	names   map[string]*certRecord
	nextID  int64
	// cas holds Certificate Management Service's stores by region.
	cas map[string]*casRegion
}

func newRegistry() *registry {
	return &registry{domains: map[string]*domainEntry{}, names: map[string]*certRecord{}, nextID: 14000000}
}

func domainKey(product, name string) string {
	return product + "/" + strings.ToLower(strings.TrimSpace(name))
}

// nameLocked returns the registry entry for a certificate name, creating
// it with fingerprint fp when new. Callers hold r.mu.
func (r *registry) nameLocked(name, fp string) *certRecord {
	rec := r.names[name]
	if rec == nil {
		r.nextID++
		rec = &certRecord{id: r.nextID, fingerprint: fp}
		r.names[name] = rec
	}
	return rec
}

// describeLeaf fills the leaf-derived fields of c.
func describeLeaf(c *DomainCert, leaf *x509.Certificate) {
	c.Fingerprint = bundle.Fingerprint(leaf)
	c.NotBefore, c.NotAfter = leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
	c.CommonName = leaf.Subject.CommonName
	if c.CommonName == "" && len(leaf.DNSNames) > 0 {
		c.CommonName = leaf.DNSNames[0]
	}
	c.Issuer = leaf.Issuer.CommonName
	if len(leaf.Issuer.Organization) > 0 {
		c.Issuer = leaf.Issuer.Organization[0]
	}
}

// firstCertificate parses the first CERTIFICATE block of a PEM chain.
func firstCertificate(chain string) (*x509.Certificate, bool) {
	rest := []byte(chain)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, false
		}
		if blk.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(blk.Bytes)
			return c, err == nil
		}
	}
}

// certLife renders a validity period the way the Describe APIs do:
// "3 months", "1 year 1 month".
func certLife(from, to time.Time) string {
	if from.IsZero() || to.IsZero() || !to.After(from) {
		return ""
	}
	months := int(to.Sub(from).Hours()/24/30.44 + 0.5)
	if months < 1 {
		months = 1
	}
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.Itoa(n) + " " + unit + "s"
	}
	if months < 12 {
		return plural(months, "month")
	}
	s := plural(months/12, "year")
	if months%12 != 0 {
		s += " " + plural(months%12, "month")
	}
	return s
}
