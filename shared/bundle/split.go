package bundle

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"time"
)

// Folder is what Split found in a set of sources: the bundles they form,
// and an account of everything else, so that nothing is dropped silently.
type Folder struct {
	// Bundles holds one parsed bundle per private key that matches a
	// certificate, in the order the keys were read. Each Bundle's Sources
	// names the files that formed it (see Split); call Validate on each.
	Bundles []*Bundle
	// Rejected explains every source or half a bundle that formed no
	// bundle. Each is an *Error whose Source names the file to blame.
	// IsIncomplete tells the halves another file may still complete (a
	// key without its certificate, ErrNoCertificate; a leaf without its
	// key, ErrNoKey) from the permanent failures (a malformed file, an
	// encrypted or unsupported key, a file that holds a key and
	// certificates that do not match: ErrKeyMismatch).
	Rejected []*Error
	// Unused names the sources that formed no bundle and are not blamed
	// in Rejected: CA certificates no bundle's chain uses (a rotated
	// intermediate whose leaf has not arrived, the issuer file of a
	// rejected leaf), stale leaves (see Warnings), text without any
	// certificate or key. They are not errors.
	Unused []string
	// Warnings are things a person should know: leaves without a key that
	// are stale (expired, or replaced by a later leaf of a bundle here for
	// the same names) and so are not waited for.
	Warnings []string
}

// Of returns what Split made of the source named name: the bundles it
// helped form, and the rejections that blame it or that wait on it. A
// leaf without its key is blamed on the first file holding it; the other
// files holding that leaf (certbot's fullchain.pem beside cert.pem) and
// the files of CA certificates of its chain that no bundle took
// (chain.pem) wait with it, so Of returns that rejection for them too.
// Both are empty for any other Unused source or a name Split was not
// given. An OSS event for one object handles the bundles its object
// belongs to, or reports its rejections.
func (f *Folder) Of(name string) (bundles []*Bundle, rejected []*Error) {
	for _, b := range f.Bundles {
		if slices.Contains(b.Sources, name) {
			bundles = append(bundles, b)
		}
	}
	for _, e := range f.Rejected {
		if e.Source == name || slices.Contains(e.waitedBy, name) {
			rejected = append(rejected, e)
		}
	}
	return bundles, rejected
}

// Split reads the sources as any number of bundles: every file of a folder
// that holds several certificates and keys (lego keeps <domain>.crt (leaf
// and chain), <domain>.issuer.crt and <domain>.key for every domain in one
// certificates/ folder), or the parts of one (certbot, acme.sh), which make
// one bundle as Parse would.
//
// Each distinct private key that matches a certificate forms a bundle with
// that certificate (the leaf; by Parse's rules when several match) and the
// chain built from every certificate of every source. A bundle's Sources
// are the files that formed it: those holding its key or its leaf; then
// files of CA certificates only (chain.pem, ca.cer, <domain>.issuer.crt)
// that hold a certificate of its chain, each given to the bundle whose own
// files' names share the longest prefix with it (lego's
// example.com.issuer.crt goes with example.com.crt, not example.org.crt);
// then, for a chain certificate none of those holds, the file that does.
//
// What forms no bundle is in Rejected (see Folder), never dropped: a file
// that cannot be read is set aside whole and blamed, and the rest goes on.
// A key whose own file also holds a leaf, where the key matches no
// certificate at all, is ErrKeyMismatch and permanent: that file was
// written whole. A key alone, or a leaf alone, is incomplete: it may be
// half of a renewal whose other half is still arriving.
//
// Split refuses the whole input, with an *Error wrapping ErrTooLarge, over
// DefaultMaxSize (Options.MaxSize) bytes, MaxParts sources,
// MaxSplitCertificates distinct certificates or MaxBundles distinct keys;
// and it returns ctx's error once ctx is done. It reads every source once:
// the Bundles are ready for Validate, nothing needs parsing again.
func Split(ctx context.Context, srcs []Source, opts Options) (*Folder, error) {
	f, _, err := split(ctx, srcs, opts)
	return f, err
}

// split is Split, also returning the pool for tests that count its work.
// It reads the sources, then takes the steps of splitter in turn.
func split(ctx context.Context, srcs []Source, opts Options) (*Folder, *pool, error) {
	if len(srcs) > MaxParts {
		return nil, nil, newError(ErrTooLarge, "",
			fmt.Sprintf("%d files, more than the %d one folder may hold", len(srcs), MaxParts),
			"keep at most that many certificate files in one folder")
	}
	p := newPool(ctx, srcs, opts, false)
	if err := p.read(); err != nil {
		return nil, p, err
	}
	s := &splitter{p: p, f: &Folder{Rejected: p.problems}}
	if err := s.matchKeys(); err != nil {
		return nil, p, err
	}
	s.indexSources()
	s.rejectLoneKeys()
	s.ownSources()
	if err := s.rejectLoneLeaves(); err != nil {
		return nil, p, err
	}
	s.giveChainFiles()
	s.formBundles()
	return s.f, p, nil
}

// group is a bundle in the making: a key, the leaf it matches, the chain
// built for that leaf, and the sources that form it.
type group struct {
	key   *poolKey
	leaf  *poolCert
	chain []*poolCert
	root  *poolCert
	srcs  []int
}

// onChain reports whether c is on g's chain (its root included).
func (g *group) onChain(c *poolCert) bool {
	return c == g.root || slices.Contains(g.chain, c)
}

// splitter is what the steps of split share, each step filling in what
// the later ones read.
type splitter struct {
	p *pool
	f *Folder

	// By matchKeys.
	groups  []*group
	lone    []*poolKey         // keys that match no certificate
	taken   map[*poolCert]bool // the leaves of the bundles
	members map[*poolCert]bool // every certificate of any bundle

	// By indexSources.
	srcCerts map[int][]*poolCert // the certificates each source holds
	hasKey   map[int]bool        // the sources that hold a key

	// By rejectLoneKeys.
	consumed map[*poolCert]bool // leaves blamed with a mismatched key

	// By ownSources.
	own map[int]bool // the sources that hold a bundle's key or leaf

	// By rejectLoneLeaves.
	waits []wait // the leaves that wait for their key
}

// wait is a leaf rejected as waiting for its key, with the CA
// certificates of its chain that are here: the files holding either wait
// with it (Folder.Of).
type wait struct {
	e     *Error
	leaf  *poolCert
	chain []*poolCert // its intermediates and root, as far as they are here
}

// matchKeys matches keys to leaves, and builds each chain.
func (s *splitter) matchKeys() error {
	p := s.p
	s.taken, s.members = map[*poolCert]bool{}, map[*poolCert]bool{}
	for _, k := range p.keys {
		if len(k.sources) == 0 {
			continue // read from a source set aside
		}
		leaf := p.leafFor(k.key)
		if leaf == nil {
			s.lone = append(s.lone, k)
			continue
		}
		chain, root, err := p.chainOf(leaf)
		if err != nil {
			return err
		}
		g := &group{key: k, leaf: leaf, chain: chain, root: root}
		s.groups = append(s.groups, g)
		s.taken[leaf], s.members[leaf] = true, true
		for _, c := range chain {
			s.members[c] = true
		}
		if root != nil {
			s.members[root] = true
		}
	}
	return nil
}

// indexSources records what each source holds.
func (s *splitter) indexSources() {
	s.srcCerts = map[int][]*poolCert{}
	for _, c := range s.p.certs {
		for _, i := range c.sources {
			s.srcCerts[i] = append(s.srcCerts[i], c)
		}
	}
	s.hasKey = map[int]bool{}
	for _, k := range s.p.keys {
		for _, i := range k.sources {
			s.hasKey[i] = true
		}
	}
}

// chainOnly reports whether source i holds CA certificates and nothing
// else.
func (s *splitter) chainOnly(i int) bool {
	if s.p.bad[i] || s.hasKey[i] || len(s.srcCerts[i]) == 0 {
		return false
	}
	for _, c := range s.srcCerts[i] {
		if !c.cert.IsCA {
			return false
		}
	}
	return true
}

// rejectLoneKeys rejects the keys without a certificate.
func (s *splitter) rejectLoneKeys() {
	p := s.p
	s.consumed = map[*poolCert]bool{}
	for _, k := range s.lone {
		e := p.mismatch(k, p.certs)
		if e.Incomplete {
			e = newError(ErrNoCertificate, p.srcs[k.sources[0]].Name,
				fmt.Sprintf("the %s private key at line %d matches no certificate here", publicKeyType(k.key.Public()), k.line),
				"upload the certificate issued with this key next to it, or remove the stale key")
			e.Incomplete = true
		} else {
			for _, i := range k.sources {
				for _, c := range s.srcCerts[i] {
					s.consumed[c] = true
				}
			}
		}
		s.f.Rejected = append(s.f.Rejected, e)
	}
}

// ownSources gives each bundle its own sources: those holding its key or
// its leaf.
func (s *splitter) ownSources() {
	s.own = map[int]bool{}
	for _, g := range s.groups {
		g.srcs = slices.Clone(g.key.sources)
		for _, i := range g.leaf.sources {
			g.srcs = appendOnce(g.srcs, i) // a combined file holds both
		}
		for _, i := range g.srcs {
			s.own[i] = true
		}
	}
}

// rejectLoneLeaves accounts for the leaves without a key: a warning for a
// stale one, else a rejection as incomplete, whose chain it records.
func (s *splitter) rejectLoneLeaves() error {
	p, f := s.p, s.f
	now := p.opts.now()
	leaves := make([]*poolCert, len(s.groups))
	for i, g := range s.groups {
		leaves[i] = g.leaf
	}
	for _, c := range p.certs {
		if c.cert.IsCA || s.taken[c] || s.members[c] || s.consumed[c] || p.unusable(c) {
			continue
		}
		extra := true // held only by bundles' own files: an Extra there
		for _, i := range c.sources {
			extra = extra && s.own[i]
		}
		if extra {
			continue
		}
		name := leafName(c.cert)
		switch by := supersededBy(c, leaves); {
		case now.After(c.cert.NotAfter):
			f.Warnings = append(f.Warnings, fmt.Sprintf("%s: ignored the certificate for %s without a key: it expired on %s",
				shorten(p.srcs[c.sources[0]].Name, maxEcho), name, c.cert.NotAfter.UTC().Format(time.DateOnly)))
		case by != nil:
			f.Warnings = append(f.Warnings, fmt.Sprintf("%s: ignored the certificate for %s without a key: the bundle here has a later one for the same names",
				shorten(p.srcs[c.sources[0]].Name, maxEcho), name))
		default:
			e := newError(ErrNoKey, p.srcs[c.sources[0]].Name,
				fmt.Sprintf("the certificate for %s (%s, expires %s) has no private key here", name, publicKeyType(c.cert.PublicKey),
					c.cert.NotAfter.UTC().Format(time.DateOnly)),
				"upload its private key next to it (privkey.pem, <domain>.key), or remove the certificate")
			e.Incomplete = true
			f.Rejected = append(f.Rejected, e)
			chain, root, err := p.chainOf(c)
			if err != nil {
				return err
			}
			if root != nil {
				chain = append(chain, root)
			}
			s.waits = append(s.waits, wait{e, c, chain})
		}
	}
	return nil
}

// giveChainFiles gives files of CA certificates to the bundle whose chain
// they serve and whose own files' names are closest; then, for a chain
// certificate none of a bundle's files holds, the file that does.
func (s *splitter) giveChainFiles() {
	p := s.p
	names := make([]string, len(p.srcs))
	for i, src := range p.srcs {
		names[i] = src.Name
	}
	closeness := func(g *group, i int) int {
		best := 0
		for _, j := range g.srcs {
			best = max(best, commonPrefix(p.srcs[i].Name, p.srcs[j].Name))
		}
		return best
	}
	// The files rejected compete too: lego's example.org.issuer.crt is not
	// given to example.com while example.org.crt waits for its key.
	var halves []int
	for _, e := range s.f.Rejected {
		if i := slices.Index(names, e.Source); i >= 0 && !slices.Contains(halves, i) {
			halves = append(halves, i)
		}
	}
	giveClosest := func(i int, cands []*group) {
		best, half := -1, -1
		for _, g := range cands {
			best = max(best, closeness(g, i))
		}
		for _, j := range halves {
			half = max(half, commonPrefix(p.srcs[i].Name, p.srcs[j].Name))
		}
		if half > best {
			return
		}
		for _, g := range cands {
			if closeness(g, i) == best {
				g.srcs = appendOnce(g.srcs, i)
			}
		}
	}
	for i := range p.srcs {
		if !s.chainOnly(i) {
			continue
		}
		var cands []*group
		for _, g := range s.groups {
			for _, c := range s.srcCerts[i] {
				if g.onChain(c) {
					cands = append(cands, g)
					break
				}
			}
		}
		giveClosest(i, cands)
	}
	for _, g := range s.groups {
		for _, c := range append(slices.Clone(g.chain), g.root) {
			if c == nil || slices.ContainsFunc(g.srcs, c.heldBy) {
				continue
			}
			for _, i := range c.sources {
				g.srcs = appendOnce(g.srcs, i) // a file that holds more than chain certificates
			}
		}
		slices.Sort(g.srcs)
	}
}

// formBundles forms the bundles, and names the sources none used and no
// rejection blames as Unused, with their warnings.
func (s *splitter) formBundles() {
	p, f := s.p, s.f
	used := map[int]bool{}
	for _, g := range s.groups {
		others := map[*poolCert]bool{}
		for c := range s.members {
			if c != g.leaf && !g.onChain(c) {
				others[c] = true
			}
		}
		f.Bundles = append(f.Bundles, p.bundle(g.key, g.leaf, g.chain, g.root, g.srcs, others))
		for _, i := range g.srcs {
			used[i] = true
		}
	}
	blamed := map[string]bool{}
	for _, e := range f.Rejected {
		blamed[e.Source] = true
	}
	// The other files of a leaf that waits for its key, and the files of
	// its chain no bundle took, wait with it.
	for _, w := range s.waits {
		for i, src := range p.srcs {
			if used[i] || src.Name == w.e.Source {
				continue
			}
			if w.leaf.heldBy(i) || s.chainOnly(i) && slices.ContainsFunc(w.chain, func(c *poolCert) bool { return c.heldBy(i) }) {
				w.e.waitedBy = append(w.e.waitedBy, src.Name)
			}
		}
	}
	for i, src := range p.srcs {
		if !used[i] && !blamed[src.Name] {
			f.Unused = append(f.Unused, src.Name)
		}
		if !used[i] {
			f.Warnings = append(f.Warnings, p.warnings[i]...)
		}
	}
}

// supersededBy returns a leaf among leaves for the same DNS names as c and
// issued after it, if any.
func supersededBy(c *poolCert, leaves []*poolCert) *poolCert {
	for _, l := range leaves {
		if sameNames(l.cert, c.cert) && l.cert.NotBefore.After(c.cert.NotBefore) {
			return l
		}
	}
	return nil
}

func sameNames(a, b *x509.Certificate) bool {
	x, y := slices.Clone(a.DNSNames), slices.Clone(b.DNSNames)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
