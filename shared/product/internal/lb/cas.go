package lb

import (
	"context"
	"crypto/x509"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
)

// CASLookup reads certificates of Certificate Management Service by the
// keyword ListUserCertificateOrder takes (a certificate id, or a domain):
// each call goes through the fan-out's Caller in the lane of
// ListUserCertificateOrder (10 calls/s, as its page documents), and each
// listing is kept for the product's lifetime (one run), so that a hundred
// listeners carrying one certificate cost one listing. A listing is kept
// for the transport that made it: each account has its own CAS (and a
// transport of its own credentials), so one account's listing never
// answers for another's. It is safe for concurrent use.
type CASLookup struct {
	mu sync.Mutex
	m  map[casKey][]fanout.CASCert
}

// casKey names a listing: the transport (the account) that made it, and
// what was listed.
type casKey struct {
	tr    *cloud.Client
	query string
}

// List returns the certificates of region matching keyword, the valid
// ones, then, with expired, the expired ones too.
func (l *CASLookup) List(ctx context.Context, tr *cloud.Client, calls fanout.Caller, region, keyword string, expired bool) ([]fanout.CASCert, error) {
	key := casKey{tr, region + "|" + keyword + "|" + strconv.FormatBool(expired)}
	l.mu.Lock()
	got, ok := l.m[key]
	l.mu.Unlock()
	if ok {
		return got, nil
	}
	err := calls.Call(ctx, plan.CASListAPI, func() (string, error) {
		var err error
		got, err = tr.ListCAS(ctx, region, keyword, false)
		if err == nil && expired {
			var old []fanout.CASCert
			old, err = tr.ListCAS(ctx, region, keyword, true)
			got = append(got, old...)
		}
		return cloud.RequestIDOf(err), err
	})
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.m == nil {
		l.m = map[casKey][]fanout.CASCert{}
	}
	l.m[key] = got
	l.mu.Unlock()
	return got, nil
}

// Resolve finds the certificate id names in CAS: found is false when CAS
// does not list it (deleted, or in a store certdrop cannot read).
func (l *CASLookup) Resolve(ctx context.Context, tr *cloud.Client, calls fanout.Caller, id CertID) (fanout.CASCert, bool, error) {
	if id.Region != "cn-hangzhou" && id.Region != "ap-southeast-1" {
		return fanout.CASCert{}, false, nil
	}
	for _, expired := range []bool{false, true} {
		list, err := l.List(ctx, tr, calls, id.Region, strconv.FormatInt(id.ID, 10), expired)
		if err != nil {
			return fanout.CASCert{}, false, err
		}
		for _, c := range list {
			if c.ID == id.ID {
				return c, true, nil
			}
		}
	}
	return fanout.CASCert{}, false, nil
}

// Installed is what a target carries when it carries c: its name,
// fingerprint and dates, HTTPS on.
func Installed(c fanout.CASCert, requestID string) fanout.Installed {
	return fanout.Installed{CertName: c.Name, Fingerprint: c.Fingerprint, NotBefore: c.NotBefore, NotAfter: c.NotAfter,
		HTTPS: true, RequestID: requestID}
}

// Names returns names lower-cased, sorted, each once.
func Names(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
		if n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CoversExactly reports whether c's names (its SANs, else its common
// name) are exactly names.
func CoversExactly(c fanout.CASCert, names []string) bool {
	have := c.SANs
	if len(have) == 0 && c.CommonName != "" {
		have = []string{c.CommonName}
	}
	return len(have) > 0 && slices.Equal(Names(have), Names(names))
}

// certdropName matches the names certdrop gives certificates:
// certdrop-<cn>-<yyyymmdd>-<8 hex of the SHA-256>.
var certdropName = regexp.MustCompile(`^certdrop-(.+)-([0-9]{8})-([0-9a-f]{8})$`)

// OwnEarlier reports whether c is certdrop's own certificate for the same
// names as the certificate named casName: its name has certdrop's form with
// the same name part, and its fingerprint (where CAS gives it) is the one
// the name embeds.
func OwnEarlier(c fanout.CASCert, casName string) bool {
	m, w := certdropName.FindStringSubmatch(c.Name), certdropName.FindStringSubmatch(casName)
	if m == nil || w == nil || m[1] != w[1] {
		return false
	}
	return len(c.Fingerprint) < 8 || c.Fingerprint[:8] == m[3]
}

// Own reports whether c is one of certdrop's certificates: its name has
// certdrop's form and, where CAS gives the fingerprint, embeds it.
func Own(c fanout.CASCert) bool {
	m := certdropName.FindStringSubmatch(c.Name)
	return m != nil && (len(c.Fingerprint) < 8 || c.Fingerprint[:8] == m[3])
}

// CoversAll reports whether c's names (its SANs) cover every one of names
// by the rules of RFC 6125 (a wildcard one label deep).
func CoversAll(c fanout.CASCert, names []string) bool {
	leaf := &x509.Certificate{DNSNames: c.SANs}
	for _, n := range names {
		if !bundle.Covers(leaf, n) {
			return false
		}
	}
	return len(names) > 0
}

// Fingerprint is the SHA-256 of the first certificate of a PEM chain; ""
// when there is none.
func Fingerprint(certPEM string) string {
	if leaf := product.FirstCert(certPEM); leaf != nil {
		return bundle.Fingerprint(leaf)
	}
	return ""
}
