package bundle

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"os"
	"time"
)

// Validate checks what Parse cannot: that the leaf is within its validity
// window, names DNS names (ErrNoNames) and is within the APIs' limits
// (ErrOverLimit: MaxNames, MaxCertPEM), that the chain is complete, and that
// it verifies to a trusted root for server authentication. It sets b.Warnings to Parse's warnings plus its
// own (expiry soon, an untrusted chain that AllowUntrusted accepts), so
// calling it again, with the same or other options, never repeats one. The
// first problem found is returned as an *Error.
func (b *Bundle) Validate(opts Options) error {
	b.Warnings = append([]string(nil), b.parseWarnings...)
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
	if len(leaf.DNSNames) == 0 {
		return newError(ErrNoNames, "",
			fmt.Sprintf("the certificate %q names no DNS name (subject alternative name), so it covers no domain: browsers and Go ignore the subject CN",
				truncate(describeName(leaf.Subject.CommonName, leaf.Subject.String()), maxEcho)),
			"issue it again with every domain as a DNS subject alternative name (ACME clients always do: -d example.com)")
	}
	if n := len(leaf.DNSNames); n > MaxNames {
		return newError(ErrOverLimit, "",
			fmt.Sprintf("the certificate for %s names %d DNS names, over the %d certdrop sends to the APIs", leafName(leaf), n, MaxNames),
			"issue several certificates, each for the names one group of domains needs")
	}
	if n := len(b.CertPEM()); n > MaxCertPEM {
		return newError(ErrOverLimit, "",
			fmt.Sprintf("the certificate chain of %s is %d bytes as PEM, over the %d bytes certdrop sends to the APIs (InvalidCertificate.TooLong)", leafName(leaf), n, MaxCertPEM),
			"a leaf and its intermediates are a few kilobytes: remove certificates that are not on the chain, or issue the certificate for fewer names")
	}
	if days, warn := DaysLeft(leaf, now), opts.warnDays(); warn > 0 && days < warn {
		b.Warnings = append(b.Warnings, fmt.Sprintf("the certificate for %s expires in %d day(s), on %s",
			leafName(leaf), days, leaf.NotAfter.UTC().Format(time.DateOnly)))
	}

	inter := x509.NewCertPool()
	for _, c := range b.Intermediates {
		inter.AddCert(c)
	}
	_, verr := leaf.Verify(x509.VerifyOptions{
		Roots:         opts.pool(),
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if verr == nil {
		return nil
	}
	// No path to a trusted root. When the chain the bundle carries stops
	// at a certificate that is not self-signed, and no root was given, the
	// certificate that issued it is missing from the bundle: name it.
	var ua x509.UnknownAuthorityError
	top := b.Chain()[len(b.Intermediates)]
	if errors.As(verr, &ua) && b.root == nil && !isSelfSigned(top) {
		topName := truncate(describeName(top.Subject.CommonName, top.Subject.String()), maxEcho)
		issuer := truncate(describeName(top.Issuer.CommonName, top.Issuer.String()), maxEcho)
		if opts.AllowUntrusted {
			// With no root to check against, a missing root (a private
			// CA's usual bundle: leaf and intermediate) and a missing
			// intermediate look the same.
			b.Warnings = append(b.Warnings, fmt.Sprintf("the chain ends at %q, whose issuer %q is neither in the bundle nor a trusted root: "+
				"accepted because allowUntrusted is set, as %q may be your private root; if it is an intermediate, add it to the bundle or clients will fail",
				topName, issuer, issuer))
			return nil
		}
		e := newError(ErrMissingIntermediate, "",
			fmt.Sprintf("the chain ends at %q, whose issuer %q is neither in the bundle nor a trusted root", topName, issuer),
			"add the intermediate certificate (deploy fullchain.pem, or include acme.sh's ca.cer); if that issuer is your private root, "+trustHint)
		// A leaf whose intermediate has not arrived yet, unless one file
		// held the key and the leaf together: that file was written whole.
		e.Incomplete = !b.selfContained
		return e
	}
	detail := "the chain does not verify: " + sanitize(verr)
	var inv x509.CertificateInvalidError
	if errors.As(verr, &inv) && inv.Cert != nil {
		detail += fmt.Sprintf(" (certificate %q)", truncate(describeName(inv.Cert.Subject.CommonName, inv.Cert.Subject.String()), maxEcho))
	}
	e := newError(ErrUntrusted, "", detail,
		"deploy a certificate from a publicly trusted CA, or, for a private CA, "+trustHint+
			", or set allowUntrusted: true in the manifest (validate --allow-untrusted)")
	if !opts.AllowUntrusted {
		return e
	}
	b.Warnings = append(b.Warnings, e.Detail+" (allowed by allowUntrusted)")
	return nil
}

// trustHint says how to trust a private root, on the command line and in
// the function.
const trustHint = "pass its root certificate with --trust-roots FILE (CERTDROP_TRUST_ROOTS in the function)"

// pool returns the roots Validate trusts: the system roots unless
// NoSystemRoots, plus Roots. A machine without system roots (a scratch
// container) simply trusts Roots alone.
func (o Options) pool() *x509.CertPool {
	var pool *x509.CertPool
	if !o.NoSystemRoots {
		if p, err := x509.SystemCertPool(); err == nil {
			pool = p
		}
	}
	if pool == nil {
		pool = x509.NewCertPool()
	}
	for _, c := range o.Roots {
		pool.AddCert(c)
	}
	return pool
}

// DaysLeft is the number of days, started days counting as whole, from now
// until the certificate expires: a fresh 90-day certificate (Let's Encrypt's
// run from notBefore to notBefore+90d-1s) has 90, one that expires in an
// hour has 1, one that expired an hour ago has -1, and 0 is the instant of
// expiry.
func DaysLeft(c *x509.Certificate, now time.Time) int {
	days := c.NotAfter.Sub(now).Hours() / 24
	if days > 0 {
		return int(math.Ceil(days))
	}
	return int(math.Floor(days))
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
// labels errors. Blocks other than certificates are skipped; a damaged
// block, or a file without any certificate, is an *Error.
func ParseRoots(name string, data []byte) ([]*x509.Certificate, error) {
	blocks, err := decodeBlocks(Source{Name: name, Data: data})
	if err != nil {
		return nil, err
	}
	var roots []*x509.Certificate
	for _, blk := range blocks {
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, newError(ErrMalformed, name,
				fmt.Sprintf("the trusted root at line %d cannot be parsed: %s", blk.line, sanitize(err)),
				"export the root certificate again as PEM")
		}
		roots = append(roots, c)
	}
	if len(roots) == 0 {
		return nil, newError(ErrNoCertificate, name, "no certificate found in the trusted roots file",
			"give a PEM file with one or more CERTIFICATE blocks")
	}
	return roots, nil
}

func leafName(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 {
		return quoteName(c.DNSNames[0])
	}
	return quoteName(c.Subject.CommonName)
}
