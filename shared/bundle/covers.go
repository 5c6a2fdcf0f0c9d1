package bundle

import (
	"crypto/x509"
	"fmt"
	"strings"

	"golang.org/x/net/idna"
)

// hostProfile converts host names to ASCII for lookup (UTS #46 mapping:
// lower case, NFC, punycode), and unlike idna.Lookup also refuses empty
// labels and labels or names that are too long for the DNS.
var hostProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.VerifyDNSLength(true),
	idna.Transitional(false),
)

// NormalizeDomain returns a domain name as the APIs and certificates spell
// it: trimmed, without a trailing dot, lower-case, internationalised labels
// in punycode. A CDN wildcard written ".example.com" becomes
// "*.example.com". It fails for a name that is not a valid host name: empty
// labels, characters a host name cannot have, a single label, an IP
// address, or a wildcard anywhere but as the whole first label.
func NormalizeDomain(domain string) (string, error) {
	d := strings.TrimSuffix(strings.TrimSpace(domain), ".")
	wild := false
	switch {
	case strings.HasPrefix(d, "*."):
		wild, d = true, d[2:]
	case strings.HasPrefix(d, "."):
		wild, d = true, d[1:]
	}
	if d == "" {
		return "", fmt.Errorf("empty domain name %q", domain)
	}
	ascii, err := hostProfile.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("invalid domain name %q: %w", domain, err)
	}
	ascii = strings.ToLower(ascii)
	i := strings.LastIndexByte(ascii, '.')
	if i < 0 {
		return "", fmt.Errorf("invalid domain name %q: it needs at least two labels", domain)
	}
	if strings.Trim(ascii[i+1:], "0123456789") == "" {
		return "", fmt.Errorf("invalid domain name %q: the last label is numeric (an IP address is not a domain)", domain)
	}
	if wild {
		return "*." + ascii, nil
	}
	return ascii, nil
}

// Covers reports whether the leaf certificate is valid for domain by the
// rules of RFC 6125: an exact match against a DNS subject alternative name,
// case-insensitive, internationalised names compared in punycode; a SAN
// "*.example.com" covers exactly one more label. The subject CN never
// counts: browsers and Go (since 1.15) ignore it, so a certificate with a
// CN and no DNS SANs covers nothing (Validate refuses it with ErrNoNames).
// A wildcard acceleration domain
// ("*.example.com" or ".example.com") is covered only by that same wildcard
// SAN, since it stands for every name below it.
func (b *Bundle) Covers(domain string) bool { return Covers(b.Leaf, domain) }

// Covers is Bundle.Covers for any certificate.
func Covers(c *x509.Certificate, domain string) bool {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return false
	}
	for _, n := range c.DNSNames {
		san, err := NormalizeDomain(n)
		if err != nil || strings.HasPrefix(n, ".") {
			continue // ".example.com" is CDN shorthand, not a SAN form
		}
		if san == d {
			return true
		}
		if strings.HasPrefix(d, "*.") || !strings.HasPrefix(san, "*.") {
			continue
		}
		label, rest, ok := strings.Cut(d, ".")
		if ok && label != "" && rest == san[2:] {
			return true
		}
	}
	return false
}
