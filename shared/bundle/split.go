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
	f := &Folder{Rejected: p.problems}

	// Match keys to leaves, and build each chain.
	type group struct {
		key   *poolKey
		leaf  *poolCert
		chain []*poolCert
		root  *poolCert
		srcs  []int
	}
	var groups []*group
	var lone []*poolKey
	taken := map[*poolCert]bool{}   // the leaves of the bundles
	members := map[*poolCert]bool{} // every certificate of any bundle
	for _, k := range p.keys {
		if len(k.sources) == 0 {
			continue // read from a source set aside
		}
		leaf := p.leafFor(k.key)
		if leaf == nil {
			lone = append(lone, k)
			continue
		}
		chain, root, err := p.chainOf(leaf)
		if err != nil {
			return nil, p, err
		}
		g := &group{key: k, leaf: leaf, chain: chain, root: root}
		groups = append(groups, g)
		taken[leaf], members[leaf] = true, true
		for _, c := range chain {
			members[c] = true
		}
		if root != nil {
			members[root] = true
		}
	}

	// What each source holds.
	srcCerts := map[int][]*poolCert{}
	for _, c := range p.certs {
		for _, i := range c.sources {
			srcCerts[i] = append(srcCerts[i], c)
		}
	}
	hasKey := map[int]bool{}
	for _, k := range p.keys {
		for _, i := range k.sources {
			hasKey[i] = true
		}
	}
	chainOnly := func(i int) bool {
		if p.bad[i] || hasKey[i] || len(srcCerts[i]) == 0 {
			return false
		}
		for _, c := range srcCerts[i] {
			if !c.cert.IsCA {
				return false
			}
		}
		return true
	}

	// Keys without a certificate.
	consumed := map[*poolCert]bool{} // leaves blamed with a mismatched key
	for _, k := range lone {
		e := p.mismatch(k, p.certs)
		if e.Incomplete {
			e = newError(ErrNoCertificate, p.srcs[k.sources[0]].Name,
				fmt.Sprintf("the %s private key at line %d matches no certificate here", publicKeyType(k.key.Public()), k.line),
				"upload the certificate issued with this key next to it, or remove the stale key")
			e.Incomplete = true
		} else {
			for _, i := range k.sources {
				for _, c := range srcCerts[i] {
					consumed[c] = true
				}
			}
		}
		f.Rejected = append(f.Rejected, e)
	}

	names := make([]string, len(p.srcs))
	for i, s := range p.srcs {
		names[i] = s.Name
	}

	// Own sources of each bundle.
	own := map[int]bool{}
	for _, g := range groups {
		g.srcs = slices.Clone(g.key.sources)
		for _, i := range g.leaf.sources {
			g.srcs = appendOnce(g.srcs, i) // a combined file holds both
		}
		for _, i := range g.srcs {
			own[i] = true
		}
	}

	// Leaves without a key.
	type wait struct {
		e     *Error
		leaf  *poolCert
		chain []*poolCert // its intermediates and root, as far as they are here
	}
	var waits []wait
	now := p.opts.now()
	leaves := make([]*poolCert, len(groups))
	for i, g := range groups {
		leaves[i] = g.leaf
	}
	for _, c := range p.certs {
		if c.cert.IsCA || taken[c] || members[c] || consumed[c] || p.unusable(c) {
			continue
		}
		extra := true // held only by bundles' own files: an Extra there
		for _, i := range c.sources {
			extra = extra && own[i]
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
				return nil, p, err
			}
			if root != nil {
				chain = append(chain, root)
			}
			waits = append(waits, wait{e, c, chain})
		}
	}

	// Files of CA certificates go with the bundle whose chain they serve
	// and whose own files' names are closest.
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
	for _, e := range f.Rejected {
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
	onChainOf := func(g *group, c *poolCert) bool {
		return c == g.root || slices.Contains(g.chain, c)
	}
	for i := range p.srcs {
		if !chainOnly(i) {
			continue
		}
		var cands []*group
		for _, g := range groups {
			for _, c := range srcCerts[i] {
				if onChainOf(g, c) {
					cands = append(cands, g)
					break
				}
			}
		}
		giveClosest(i, cands)
	}
	for _, g := range groups {
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

	// The bundles.
	used := map[int]bool{}
	for _, g := range groups {
		others := map[*poolCert]bool{}
		for c := range members {
			if c != g.leaf && !onChainOf(g, c) {
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
	for _, w := range waits {
		for i, s := range p.srcs {
			if used[i] || s.Name == w.e.Source {
				continue
			}
			if w.leaf.heldBy(i) || chainOnly(i) && slices.ContainsFunc(w.chain, func(c *poolCert) bool { return c.heldBy(i) }) {
				w.e.waitedBy = append(w.e.waitedBy, s.Name)
			}
		}
	}
	for i, s := range p.srcs {
		if !used[i] && !blamed[s.Name] {
			f.Unused = append(f.Unused, s.Name)
		}
		if !used[i] {
			f.Warnings = append(f.Warnings, p.warnings[i]...)
		}
	}
	return f, p, nil
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
