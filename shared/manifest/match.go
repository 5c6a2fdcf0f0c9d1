package manifest

import (
	"crypto/x509"
	"strings"

	"github.com/certdrop/certdrop/shared/bundle"
)

// Match returns the targets a certificate found at objectKey should be
// deployed to (covered), and the targets bound to that key by their bundle
// prefix that the certificate does not cover (notCovered), which a report
// must show rather than drop. Targets without a bundle prefix that the
// certificate does not cover belong to other certificates and are in
// neither list. An empty objectKey means the key is unknown: bundle
// prefixes are then not checked, and a target the certificate does not
// cover is in neither list, since it is not known to be bound to this
// bundle. A nil leaf covers nothing. Both lists keep manifest order.
func (m *Manifest) Match(leaf *x509.Certificate, objectKey string) (covered, notCovered []Target) {
	for _, t := range m.Targets {
		bound := t.Bundle != "" && objectKey != ""
		if bound && !strings.HasPrefix(objectKey, t.Bundle) {
			continue
		}
		switch {
		case leaf != nil && coversAll(leaf, t.Covered()):
			covered = append(covered, t)
		case bound:
			notCovered = append(notCovered, t)
		}
	}
	return covered, notCovered
}

// coversAll reports whether leaf covers every one of names.
func coversAll(leaf *x509.Certificate, names []string) bool {
	for _, n := range names {
		if !bundle.Covers(leaf, n) {
			return false
		}
	}
	return len(names) > 0
}
