package bundle

import (
	"bytes"
	"crypto/x509"
)

// orderChain walks from the leaf to the certificate that issued it, and on,
// whatever order the input had. It returns the intermediates in order (roots
// dropped: a server never needs to send one), the certificates that are not
// on the chain at all, and the self-signed root when the input had it.
func orderChain(leaf *x509.Certificate, certs []*x509.Certificate) (chain, extra []*x509.Certificate, root *x509.Certificate) {
	used := map[*x509.Certificate]bool{leaf: true}
	cur := leaf
	for !isSelfSigned(cur) {
		next := findIssuer(cur, certs, used)
		if next == nil {
			break
		}
		used[next] = true
		if isSelfSigned(next) {
			root = next
			break
		}
		chain = append(chain, next)
		cur = next
	}
	for _, c := range certs {
		if !used[c] && !isSelfSigned(c) {
			extra = append(extra, c)
		}
	}
	return chain, extra, root
}

// findIssuer returns the unused certificate that issued c: its subject is
// c's issuer and, where both carry them, its subject key identifier is c's
// authority key identifier. The signature decides between several such
// candidates (a cross-signed and a self-signed version of one CA, or two
// generations of a CA under the same name); a lone candidate is taken as is
// and Validate checks its signature.
func findIssuer(c *x509.Certificate, certs []*x509.Certificate, used map[*x509.Certificate]bool) *x509.Certificate {
	var named []*x509.Certificate
	for _, p := range certs {
		if used[p] || !bytes.Equal(p.RawSubject, c.RawIssuer) {
			continue
		}
		if len(c.AuthorityKeyId) > 0 && len(p.SubjectKeyId) > 0 && !bytes.Equal(c.AuthorityKeyId, p.SubjectKeyId) {
			continue
		}
		named = append(named, p)
	}
	if len(named) == 1 {
		return named[0]
	}
	var signer *x509.Certificate
	for _, p := range named {
		// Certificate.CheckSignature, unlike CheckSignatureFrom, accepts
		// SHA-1: ordering is not a trust decision, Verify makes that.
		if p.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil {
			continue
		}
		// Prefer a CA that is not self-signed, so a cross-signed
		// intermediate stays on the chain and Verify can use either path.
		if signer == nil || isSelfSigned(signer) && !isSelfSigned(p) {
			signer = p
		}
	}
	return signer
}

// isSelfSigned reports whether c names itself as its issuer and its own key
// signed it.
func isSelfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawSubject, c.RawIssuer) {
		return false
	}
	if len(c.AuthorityKeyId) > 0 && len(c.SubjectKeyId) > 0 && !bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
		return false
	}
	return c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}
