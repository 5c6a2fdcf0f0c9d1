package plan

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/manifest"
)

// Plan is the set of calls that deploys one bundle to the manifest targets
// it matches.
type Plan struct {
	// Bundle identifies the certificate being deployed.
	Bundle bundle.Identity
	// Sources are the files or object keys the bundle came from.
	Sources []string
	// CertName is the name every call gives the certificate.
	CertName string
	// Calls holds one Set call per covered target, in manifest order.
	Calls []Call
	// NotCovered are the calls (as TargetCall plans them, never sent) of
	// the targets bound to this bundle by their bundle prefix that the
	// certificate does not cover: reported, never dropped.
	NotCovered []Call
	// CASName is the name the certificate has in Certificate Management
	// Service, for targets with delivery: cas (CASCertName).
	CASName string
	// Replace is the manifest's replace setting: ReplaceOlder (the
	// default: a domain carrying a certificate issued later is skipped)
	// or ReplaceAlways.
	Replace string
	// Notes say what a person should know about how the plan delivers:
	// the targets with delivery: cas of a product whose Set API takes no
	// reference go by upload (NoReferenceError), once per product.
	Notes []string

	// certPEM and key are kept for CASUploads; key never prints.
	certPEM string
	key     bundle.Secret
}

// Replace settings, as the manifest writes them.
const (
	ReplaceOlder  = manifest.ReplaceOlder
	ReplaceAlways = manifest.ReplaceAlways
)

// Build plans the calls that deploy b to the targets of m it matches,
// each as its product plans it (ps). objectKey is where the bundle was
// found ("" when unknown: bundle prefixes are then not checked). b must
// already have passed Validate.
func Build(b *bundle.Bundle, m *manifest.Manifest, objectKey string, ps Products) (*Plan, error) {
	id := b.Identity()
	p := &Plan{
		Bundle:   id,
		Sources:  append([]string(nil), b.Sources...),
		CertName: CertName(id),
		CASName:  CASCertName(id),
		Replace:  m.Defaults.Replace,
	}
	if p.Replace == "" {
		p.Replace = ReplaceOlder
	}
	covered, notCovered := m.Match(b.Leaf, objectKey)
	for _, t := range notCovered {
		c, err := TargetCall(ps, t)
		if err != nil {
			// Reported as the manifest wrote it.
			c = Call{Target: t, DomainName: t.Where()}
		}
		p.NotCovered = append(p.NotCovered, c)
	}
	certPEM, keyPEM := b.CertPEM(), b.KeyPEM()
	for _, t := range covered {
		pl, err := planner(ps, t)
		if err != nil {
			return nil, err
		}
		c, err := pl.Target(t)
		if err != nil {
			return nil, err
		}
		if t.CAS() {
			ref, err := pl.Reference(c, p.CASName, certPEM)
			var nr *NoReferenceError
			switch {
			case errors.As(err, &nr):
				// By upload, as the product's Set API documents.
				c = pl.Upload(c, p.CertName, certPEM, keyPEM)
				if !slices.Contains(p.Notes, nr.Note) {
					p.Notes = append(p.Notes, nr.Note)
				}
			case err != nil:
				return nil, err
			default:
				p.certPEM, p.key = certPEM, keyPEM
				c = ref
			}
		} else {
			c = pl.Upload(c, p.CertName, certPEM, keyPEM)
		}
		p.Calls = append(p.Calls, c)
	}
	return p, nil
}

// LowerBound is the shortest time the Set calls can take at the documented
// quotas: the largest, over the accounts and their APIs' lanes (API.Lane),
// of calls ÷ calls-per-second. The accounts run at once, each at its own
// quotas.
func (p *Plan) LowerBound() time.Duration { return LowerBound(p.Calls) }

// LowerBound is Plan.LowerBound for any calls.
func LowerBound(calls []Call) time.Duration {
	perAPI := map[string]int{}
	quota := map[string]float64{}
	for _, c := range calls {
		k := c.Target.Account + "|" + c.API.Lane()
		perAPI[k]++
		quota[k] = c.API.Quota
	}
	var worst float64
	for a, n := range perAPI {
		worst = math.Max(worst, float64(n)/quota[a])
	}
	return time.Duration(worst * float64(time.Second))
}

// maxCertName is the longest CertName the APIs accept
// (InvalidCertName.TooLong above it).
const maxCertName = 128

// CertName derives the name a certificate is uploaded under, so that the
// name alone identifies it: certdrop-<cn>-<not-after yyyymmdd>-<first 8 hex
// of the SHA-256 fingerprint>. Characters other than letters, digits, '.',
// '_' and '-' become '-', a leading "*." becomes "wildcard.", and the CN is
// shortened so the whole stays within 128 characters.
func CertName(id bundle.Identity) string { return certName(id, maxCertName) }

// certName is CertName within limit characters.
func certName(id bundle.Identity, limit int) string {
	cn := id.CommonName
	if cn == "" && len(id.SANs) > 0 {
		cn = id.SANs[0]
	}
	cn = strings.ToLower(cn)
	if rest, ok := strings.CutPrefix(cn, "*."); ok {
		cn = "wildcard." + rest
	}
	cn = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, cn)
	if cn == "" {
		cn = "cert"
	}
	suffix := fmt.Sprintf("-%s-%s", id.NotAfter.UTC().Format("20060102"), id.Fingerprint[:8])
	prefix := "certdrop-"
	if room := limit - len(prefix) - len(suffix); len(cn) > room {
		cn = cn[:room]
	}
	return prefix + cn + suffix
}
