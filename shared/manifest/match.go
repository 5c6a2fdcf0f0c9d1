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
// prefixes are then not checked.
func (m *Manifest) Match(leaf *x509.Certificate, objectKey string) (covered, notCovered []Target) {
	for _, t := range m.Targets {
		if t.Bundle != "" && objectKey != "" && !strings.HasPrefix(objectKey, t.Bundle) {
			continue
		}
		switch {
		case bundle.Covers(leaf, t.Domain):
			covered = append(covered, t)
		case t.Bundle != "":
			notCovered = append(notCovered, t)
		}
	}
	return covered, notCovered
}
