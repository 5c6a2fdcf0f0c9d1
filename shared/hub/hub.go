// Package hub is what Certificate Management Service, as the hub of
// certdrop's certificates, makes possible beyond delivery: rolling every
// target back to a certificate already in CAS, by reference and without
// its key, and pruning the certificates certdrop left there. Delivery
// itself (upload once per region, set by reference) is fanout.RunCAS.
package hub

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"regexp"
	"time"

	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
)

// certdropName matches the names certdrop gives certificates
// (plan.CertName, plan.CASCertName): certdrop-<cn>-<yyyymmdd>-<8 hex>.
var certdropName = regexp.MustCompile(`^certdrop-(.+)-([0-9]{8})-([0-9a-f]{8})$`)

// ours reports whether certdrop named c: the name has certdrop's form and
// belongs to c, so that a certificate someone named "certdrop-…" by hand
// is not taken for one of ours. Where CAS gives the certificate's SHA-256
// (ListUserCertificateOrder's Sha2, for uploads), the name's fingerprint
// prefix must be its own, and that settles it. Only without it is the
// name's date compared with the expiry CAS gives, within a day: CAS's
// EndDate is a date without a zone (its reference does not say which),
// and the name's date is UTC.
func ours(c fanout.CASCert) bool {
	m := certdropName.FindStringSubmatch(c.Name)
	if m == nil {
		return false
	}
	if len(c.Fingerprint) >= 8 {
		return c.Fingerprint[:8] == m[3]
	}
	if !c.NotAfter.IsZero() {
		named, err := time.Parse("20060102", m[2])
		if err != nil {
			return false
		}
		day := c.NotAfter.UTC().Truncate(24 * time.Hour)
		if d := named.Sub(day); d > 24*time.Hour || d < -24*time.Hour {
			return false
		}
	}
	return true
}

// casLeaf stands in for a certificate whose PEM certdrop does not have (a
// CAS listing gives its names, not its content) where coverage is
// checked: the names are what manifest.Match reads.
func casLeaf(c fanout.CASCert) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: c.CommonName}, DNSNames: c.SANs,
		NotBefore: c.NotBefore, NotAfter: c.NotAfter}
}

// regions lists the CAS regions the manifest's targets in account (the
// manifest's name; "" the function's own) reference (a target with upload
// delivery counts for its CertRegion too: a rollback sets it by
// reference), cn-hangzhou first.
func regions(m *manifest.Manifest, account string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range manifest.CASRegions() {
		for _, t := range m.Targets {
			if t.Account == account && t.CertRegion() == r && !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// listAll lists a region's certificates matching keyword, valid and
// expired, through the CAS retry policy.
func listAll(ctx context.Context, cas fanout.CASClient, opts fanout.Options, region, keyword string) ([]fanout.CASCert, error) {
	var out []fanout.CASCert
	for _, expired := range []bool{false, true} {
		var got []fanout.CASCert
		err := fanout.CallCAS(ctx, opts, func() error {
			var err error
			got, err = cas.ListCAS(ctx, region, keyword, expired)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// expired reports whether c has expired at now.
func expired(c fanout.CASCert, now time.Time) bool {
	return c.Expired || (!c.NotAfter.IsZero() && !now.Before(c.NotAfter))
}
