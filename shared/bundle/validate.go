package bundle

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"os"
	"time"
)

// Validate checks what Parse cannot: that the leaf is within its validity
// window, that the chain is complete, and that it verifies to a trusted root.
// Warnings (expiry soon, an untrusted chain that AllowUntrusted accepts) are
// appended to b.Warnings. The first problem found is returned as an *Error.
func (b *Bundle) Validate(opts Options) error {
	now := opts.now()
	leaf := b.Leaf
	switch {
	case now.After(leaf.NotAfter):
		return newError(ErrExpired, "",
			fmt.Sprintf("the certificate for %s expired on %s", leafName(leaf), leaf.NotAfter.UTC().Format(time.DateOnly)),
			"renew it before deploying")
	case now.Before(leaf.NotBefore):
		return newError(ErrNotYetValid, "",
			fmt.Sprintf("the certificate for %s is not valid until %s", leafName(leaf), leaf.NotBefore.UTC().Format(time.RFC3339)),
			"check the clock of the machine that issued it, or wait until then")
	}
	if days := DaysLeft(leaf, now); opts.warnDays() > 0 && days < opts.warnDays() {
		b.Warnings = append(b.Warnings, fmt.Sprintf("the certificate expires in %d day(s), on %s",
			days, leaf.NotAfter.UTC().Format(time.DateOnly)))
	}

	roots, err := opts.pool()
	if err != nil {
		return err
	}
	last := leaf
	if n := len(b.Intermediates); n > 0 {
		last = b.Intermediates[n-1]
	}
	if !isSelfSigned(last) && b.root == nil && !poolHasIssuer(roots, last) {
		return newError(ErrMissingIntermediate, "",
			fmt.Sprintf("the chain ends at %q, whose issuer %q is neither in the bundle nor a known root",
				last.Subject.CommonName, describeName(last.Issuer.CommonName, last.Issuer.String())),
			"add the intermediate certificate (fullchain.pem, or acme.sh's ca.cer); if it is your private root, pass it as a trusted root")
	}

	inter := x509.NewCertPool()
	for _, c := range b.Intermediates {
		inter.AddCert(c)
	}
	_, verr := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if verr != nil {
		e := newError(ErrUntrusted, "", "the chain does not verify: "+sanitize(verr),
			"deploy a certificate from a publicly trusted CA, pass your private root as a trusted root, or set allowUntrusted: true in the manifest")
		if !opts.AllowUntrusted {
			return e
		}
		b.Warnings = append(b.Warnings, e.Detail+" (allowed by allowUntrusted)")
	}
	return nil
}

// poolHasIssuer reports whether a root in pool issued c. A CertPool has no
// lookup by name, so it asks Verify with c as the leaf and checks that the
// complaint, if any, is not an unknown authority.
func poolHasIssuer(pool *x509.CertPool, c *x509.Certificate) bool {
	_, err := c.Verify(x509.VerifyOptions{
		Roots:       pool,
		CurrentTime: c.NotBefore.Add(time.Second),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	var ua x509.UnknownAuthorityError
	return !errors.As(err, &ua)
}

func (o Options) pool() (*x509.CertPool, error) {
	var pool *x509.CertPool
	if !o.NoSystemRoots {
		p, err := x509.SystemCertPool()
		if err == nil {
			pool = p
		}
	}
	if pool == nil {
		pool = x509.NewCertPool()
	}
	for _, c := range o.Roots {
		pool.AddCert(c)
	}
	return pool, nil
}

// DaysLeft is the number of whole days from now until the leaf expires.
func DaysLeft(c *x509.Certificate, now time.Time) int {
	return int(math.Floor(c.NotAfter.Sub(now).Hours() / 24))
}

// LoadRoots reads PEM certificates to trust in addition to the system roots.
func LoadRoots(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trusted roots: %w", err)
	}
	return ParseRoots(path, data)
}

// ParseRoots parses the PEM certificates of a trusted-roots file; name
// labels errors.
func ParseRoots(name string, data []byte) ([]*x509.Certificate, error) {
	var roots []*x509.Certificate
	for rest := bytes.TrimPrefix(data, utf8BOM); ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, newError(ErrMalformed, name, "a trusted root cannot be parsed: "+sanitize(err), "")
		}
		roots = append(roots, c)
	}
	if len(roots) == 0 {
		return nil, newError(ErrNoCertificate, name, "no certificate found in the trusted roots file", "")
	}
	return roots, nil
}

func leafName(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	return c.Subject.CommonName
}
