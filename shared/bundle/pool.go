package bundle

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
)

// pool is everything read from a set of sources, once: the distinct
// certificates and private keys, each with the sources that hold it. Parse
// and Split both start from it.
type pool struct {
	ctx  context.Context
	opts Options
	srcs []Source
	// single: Parse's rules (one bundle: the first problem ends the read,
	// a second distinct key is ErrMultipleKeys); else Split's (a problem
	// sets its source aside, many keys are expected).
	single bool
	// maxCerts and maxKeys cap the distinct certificates and keys.
	maxCerts, maxKeys int

	certs     []*poolCert
	certByDER map[string]*poolCert
	keys      []*poolKey
	keyByDER  map[string]*poolKey
	keyBlocks int
	// bad marks sources set aside (Split), problems says why.
	bad      map[int]bool
	problems []*Error
	// blocks counts the certificates and keys each source holds.
	blocks   map[int]int
	warnings map[int][]string

	// chain building: certificates by subject, memoised answers, and the
	// signature budget.
	bySubject  map[string][]*poolCert
	issuerOf   map[*poolCert]*poolCert
	issuerDone map[*poolCert]bool
	selfSigned map[*poolCert]bool
	sigChecks  int
}

// poolCert is one distinct certificate and the sources that hold it.
type poolCert struct {
	cert    *x509.Certificate
	sources []int
	index   int // order of first appearance
}

// poolKey is one distinct private key and the sources that hold it.
type poolKey struct {
	key     crypto.Signer
	sources []int
	line    int // line of its first block, for messages
	from    int // the source of its first block
}

func newPool(ctx context.Context, srcs []Source, opts Options, single bool) *pool {
	p := &pool{
		ctx: ctx, opts: opts, srcs: srcs, single: single,
		maxCerts: MaxSplitCertificates, maxKeys: MaxBundles,
		certByDER: map[string]*poolCert{}, keyByDER: map[string]*poolKey{},
		bad: map[int]bool{}, blocks: map[int]int{}, warnings: map[int][]string{},
		bySubject: map[string][]*poolCert{}, issuerOf: map[*poolCert]*poolCert{},
		issuerDone: map[*poolCert]bool{}, selfSigned: map[*poolCert]bool{},
	}
	if single {
		p.maxCerts, p.maxKeys = MaxCertificates, 1
	}
	return p
}

// names lists the sources' names, shortened for messages.
func (p *pool) names(idx []int) []string {
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = p.srcs[j].Name
	}
	return out
}

// checkSize refuses inputs over the total size cap before reading any.
func (p *pool) checkSize() error {
	maxSize := p.opts.maxSize()
	var total int64
	for _, s := range p.srcs {
		total += int64(len(s.Data))
	}
	if total > maxSize {
		return newError(ErrTooLarge, "",
			fmt.Sprintf("the bundle is %d bytes, over the %d-byte limit", total, maxSize),
			"a certificate bundle is a few kilobytes: check that the right files were given")
	}
	return nil
}

// read decodes every source. It returns an error that ends the whole read:
// a cap exceeded, the context done, or (single) the first problem.
func (p *pool) read() error {
	if err := p.checkSize(); err != nil {
		return err
	}
	for i := range p.srcs {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		err := p.readSource(i)
		if err == nil {
			continue
		}
		e, ok := err.(*Error)
		if !ok || p.single || e.Err == ErrTooLarge {
			return err
		}
		p.bad[i] = true
		p.problems = append(p.problems, e)
	}
	for _, c := range p.certs {
		if p.unusable(c) {
			continue
		}
		k := string(c.cert.RawSubject)
		p.bySubject[k] = append(p.bySubject[k], c)
	}
	return nil
}

// readSource reads one source's blocks into the pool. In Split mode
// nothing of a source is kept unless all of it reads: its certificates
// and keys are added only at the end.
func (p *pool) readSource(i int) error {
	s := p.srcs[i]
	blocks, err := decodeBlocks(s)
	if err != nil {
		return err
	}
	var certs []*poolCert
	var keys []*poolKey
	var ignored []string
	for _, blk := range blocks {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		switch {
		case blk.Type == "CERTIFICATE":
			c, err := p.addCert(i, blk)
			if err != nil {
				return err
			}
			certs = append(certs, c)
		case isKeyBlock(blk.Type):
			k, err := p.addKey(i, blk)
			if err != nil {
				return err
			}
			if k != nil {
				keys = append(keys, k)
			}
		case blk.Type == "EC PARAMETERS":
			// openssl ecparam -genkey writes these before the key; the key
			// names its own curve.
		default:
			ignored = append(ignored, fmt.Sprintf("%s at line %d", blockLabel([]byte(blk.Type+"-----")), blk.line))
		}
	}
	for _, c := range certs {
		c.sources = appendOnce(c.sources, i)
	}
	for _, k := range keys {
		k.sources = appendOnce(k.sources, i)
	}
	p.blocks[i] = len(certs) + len(keys)
	if len(ignored) > 0 {
		p.warnings[i] = append(p.warnings[i], fmt.Sprintf("%s: ignored %d block(s) that are neither certificates nor keys: %s",
			shorten(s.Name, maxEcho), len(ignored), listSome(ignored)))
	}
	return nil
}

// addCert parses a certificate block, or finds the same certificate read
// before. Distinct certificates count against the cap before parsing.
func (p *pool) addCert(i int, blk block) (*poolCert, error) {
	if c := p.certByDER[string(blk.Bytes)]; c != nil {
		return c, nil
	}
	name := p.srcs[i].Name
	if len(p.certs) >= p.maxCerts {
		return nil, newError(ErrTooLarge, name,
			fmt.Sprintf("more than %d distinct certificates", p.maxCerts),
			"a bundle is a leaf certificate and a few intermediates: check that the right files were given")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, newError(ErrMalformed, name,
			fmt.Sprintf("the certificate at line %d cannot be parsed: %s", blk.line, sanitize(err)),
			"the file is damaged or is not a certificate: export it again")
	}
	var unsupported string
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() > maxRSABits {
			unsupported = fmt.Sprintf("a %d-bit RSA key, over the %d-bit maximum", k.N.BitLen(), maxRSABits)
		}
	case *ecdsa.PublicKey:
		if !supportedCurve(k.Curve) {
			unsupported = "an ECDSA key on " + k.Curve.Params().Name + ", not P-256 or P-384"
		}
	}
	if unsupported != "" {
		return nil, newError(ErrUnsupportedKey, name,
			fmt.Sprintf("the certificate at line %d (%q) has %s", blk.line, quoteName(c.Subject.CommonName), unsupported),
			"issue the certificate (and its CA) with RSA keys of 2048 to 4096 bits or ECDSA P-256 or P-384 keys")
	}
	pc := &poolCert{cert: c, index: len(p.certs)}
	p.certs = append(p.certs, pc)
	p.certByDER[string(blk.Bytes)] = pc
	return pc, nil
}

// addKey parses a private-key block, or finds the same key read before
// (the same bytes, or another encoding of the same key). It returns nil
// for the very bytes of a key already read from this source.
func (p *pool) addKey(i int, blk block) (*poolKey, error) {
	name := p.srcs[i].Name
	plain := blk.Type != "ENCRYPTED PRIVATE KEY" && len(blk.Headers) == 0
	if k := p.keyByDER[string(blk.Bytes)]; k != nil && plain {
		return k, nil // the same key again (privkey.pem and a combined file)
	}
	if len(blk.Bytes) > maxKeyDER && plain {
		return nil, newError(ErrUnsupportedKey, name,
			fmt.Sprintf("the private key at line %d is %d bytes, larger than an RSA key of %d bits", blk.line, len(blk.Bytes), maxRSABits),
			"certdrop deploys RSA and ECDSA keys only: issue the certificate with an RSA (2048 bits or more) or ECDSA P-256 key")
	}
	// The same bytes again cost nothing; a key may also come in another
	// encoding (PKCS#1 and PKCS#8) in another file. More parses than that
	// is hostile.
	if p.keyBlocks >= maxKeyBlocksPerKey*p.maxKeys {
		return nil, newError(ErrTooLarge, name, fmt.Sprintf("more than %d private key blocks", maxKeyBlocksPerKey*p.maxKeys),
			"a bundle carries one private key: check that the right files were given")
	}
	p.keyBlocks++
	key, err := parseKey(name, blk)
	if err != nil {
		return nil, err
	}
	if rk, ok := key.(*rsa.PrivateKey); ok && rk.N.BitLen() > maxRSABits {
		return nil, newError(ErrUnsupportedKey, name,
			fmt.Sprintf("the private key at line %d is a %d-bit RSA key, over the %d-bit maximum", blk.line, rk.N.BitLen(), maxRSABits),
			"issue the certificate with an RSA key of 2048 to 4096 bits or an ECDSA P-256 key")
	}
	for _, k := range p.keys {
		if samePublicKey(k.key.Public(), key.Public()) {
			if plain {
				p.keyByDER[string(blk.Bytes)] = k
			}
			return k, nil
		}
	}
	if p.single && len(p.keys) == 1 {
		first := p.keys[0]
		return nil, newError(ErrMultipleKeys, name,
			fmt.Sprintf("the private key at line %d differs from the one already read from %s", blk.line, shorten(p.srcs[first.from].Name, maxEcho)),
			"a bundle carries exactly one private key: remove the stale one")
	}
	if len(p.keys) >= p.maxKeys {
		return nil, newError(ErrTooLarge, name, fmt.Sprintf("more than %d distinct private keys", p.maxKeys),
			"keep at most that many certificates in one folder")
	}
	k := &poolKey{key: key, line: blk.line, from: i}
	p.keys = append(p.keys, k)
	if plain {
		p.keyByDER[string(blk.Bytes)] = k
	}
	return k, nil
}

// leafFor returns the certificate for key. When several are (a renewal
// that reused the key, next to the old certificate), it prefers one that
// is not a CA and then the most recently issued.
func (p *pool) leafFor(key crypto.Signer) *poolCert {
	var leaf *poolCert
	for _, pc := range p.certs {
		c := pc.cert
		if p.unusable(pc) || !samePublicKey(key.Public(), c.PublicKey) {
			continue
		}
		switch {
		case leaf == nil,
			leaf.cert.IsCA && !c.IsCA,
			leaf.cert.IsCA == c.IsCA && c.NotBefore.After(leaf.cert.NotBefore):
			leaf = pc
		}
	}
	return leaf
}

// unusable reports a certificate read only from sources set aside.
func (p *pool) unusable(c *poolCert) bool { return len(c.sources) == 0 }

// heldBy reports whether source i holds certificate c.
func (c *poolCert) heldBy(i int) bool {
	for _, j := range c.sources {
		if j == i {
			return true
		}
	}
	return false
}

func appendOnce(xs []int, x int) []int {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}
