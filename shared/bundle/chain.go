package bundle

import (
	"bytes"
	"crypto/x509"
)

// chainOf walks from the leaf to the certificate that issued it, and on,
// whatever order the input had. It returns the intermediates in order
// (roots dropped: a server never needs to send one) and the self-signed
// root when the input had it. The chain stops at MaxCertificates.
//
// The walk is linear in practice: issuers are looked up by subject, each
// certificate's issuer is found once per pool (lego's bundles share their
// intermediates), and a signature is checked only to choose between
// several candidates, within the pool's budget.
func (p *pool) chainOf(leaf *poolCert) (chain []*poolCert, root *poolCert, err error) {
	used := map[*poolCert]bool{leaf: true}
	cur := leaf
	for len(chain) < MaxCertificates-1 {
		if ss, err := p.isSelfSigned(cur); err != nil {
			return nil, nil, err
		} else if ss {
			break
		}
		next, err := p.issuer(cur)
		if err != nil {
			return nil, nil, err
		}
		if next == nil || used[next] {
			break
		}
		used[next] = true
		ss, err := p.isSelfSigned(next)
		if err != nil {
			return nil, nil, err
		}
		if ss {
			root = next
			break
		}
		chain = append(chain, next)
		cur = next
	}
	return chain, root, nil
}

// issuer returns the certificate that issued c: its subject is c's issuer
// and, where both carry them, its subject key identifier is c's authority
// key identifier. A lone candidate is taken as is (Validate checks its
// signature). Between several (a cross-signed and a self-signed version of
// one CA, or two generations of a CA under one name) the signature
// decides: those not self-issued are tried first, so that a cross-signed
// intermediate stays on the chain and Verify can use either path, and at
// most maxIssuerChecks distinct keys are tried.
func (p *pool) issuer(c *poolCert) (*poolCert, error) {
	if p.issuerDone[c] {
		return p.issuerOf[c], nil
	}
	var named []*poolCert
	for _, cand := range p.bySubject[string(c.cert.RawIssuer)] {
		if cand == c {
			continue
		}
		if len(c.cert.AuthorityKeyId) > 0 && len(cand.cert.SubjectKeyId) > 0 && !bytes.Equal(c.cert.AuthorityKeyId, cand.cert.SubjectKeyId) {
			continue
		}
		named = append(named, cand)
	}
	var found *poolCert
	switch len(named) {
	case 0:
	case 1:
		found = named[0]
	default:
		// Not self-issued first, then input order.
		ordered := make([]*poolCert, 0, len(named))
		for _, selfIssued := range []bool{false, true} {
			for _, cand := range named {
				if isSelfIssued(cand.cert) == selfIssued {
					ordered = append(ordered, cand)
				}
			}
		}
		var tried [][]byte
	candidates:
		for _, cand := range ordered {
			for _, spki := range tried {
				if bytes.Equal(spki, cand.cert.RawSubjectPublicKeyInfo) {
					continue candidates // same key, same answer
				}
			}
			if len(tried) == maxIssuerChecks {
				break
			}
			tried = append(tried, cand.cert.RawSubjectPublicKeyInfo)
			ok, err := p.checkSignature(cand.cert, c.cert)
			if err != nil {
				return nil, err
			}
			if ok {
				found = cand
				break
			}
		}
	}
	p.issuerDone[c], p.issuerOf[c] = true, found
	return found, nil
}

// isSelfSigned reports whether c names itself as its issuer and its own key
// signed it; memoised.
func (p *pool) isSelfSigned(c *poolCert) (bool, error) {
	if !isSelfIssued(c.cert) {
		return false, nil
	}
	if v, ok := p.selfSigned[c]; ok {
		return v, nil
	}
	ok, err := p.checkSignature(c.cert, c.cert)
	if err != nil {
		return false, err
	}
	p.selfSigned[c] = ok
	return ok, nil
}

// checkSignature reports whether parent's key signed child, within the
// pool's budget: past it, the answer is no. It is the only place the pool
// checks a signature, and it honours the context.
func (p *pool) checkSignature(parent, child *x509.Certificate) (bool, error) {
	if err := p.ctx.Err(); err != nil {
		return false, err
	}
	if p.sigChecks >= maxSignatureChecks {
		return false, nil
	}
	p.sigChecks++
	// Certificate.CheckSignature, unlike CheckSignatureFrom, accepts
	// SHA-1: ordering is not a trust decision, Verify makes that.
	return parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature) == nil, nil
}

// isSelfIssued reports whether c names itself as its issuer (and, where it
// carries both, its key identifiers agree): the cheap half of
// isSelfSigned, without the signature.
func isSelfIssued(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawSubject, c.RawIssuer) {
		return false
	}
	return len(c.AuthorityKeyId) == 0 || len(c.SubjectKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId)
}

// isSelfSigned reports whether c names itself as its issuer and its own key
// signed it, for a certificate outside any pool (Validate).
func isSelfSigned(c *x509.Certificate) bool {
	return isSelfIssued(c) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}
