package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/manifest"
)

// validateResult is one bundle's entry in validate's output.
type validateResult struct {
	Valid    bool             `json:"valid"`
	Sources  []string         `json:"sources"`
	Bundle   *bundle.Identity `json:"bundle,omitempty"`
	DaysLeft *int             `json:"daysLeft,omitempty"`
	Chain    []chainEntry     `json:"chain,omitempty"`
	Domains  []domainVerdict  `json:"domains,omitempty"`
	Warnings []string         `json:"warnings"`
	Error    *problem         `json:"error,omitempty"`
}

type chainEntry struct {
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	NotAfter    time.Time `json:"notAfter"`
	Fingerprint string    `json:"fingerprint"`
}

type domainVerdict struct {
	Domain  string `json:"domain"`
	Covered bool   `json:"covered"`
}

// problem is an error as a person and a script read it.
type problem struct {
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func problemOf(err error) *problem {
	var be *bundle.Error
	if errors.As(err, &be) {
		hint := be.Hint
		be2 := *be
		be2.Hint = ""
		return &problem{Message: be2.Error(), Hint: hint}
	}
	return &problem{Message: err.Error()}
}

func runValidate(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("validate", "FILE|DIR... [--domain D]... [--manifest FILE] [--trust-roots FILE] [--allow-untrusted] [--warn-days N] [--json]",
		"Checks a certificate bundle before it is deployed: structure, key match, chain, validity,\n"+
			"trust and, with --domain, coverage; with --manifest, the manifest too (its notices become\n"+
			"warnings). Exit 0 valid, 1 invalid, 2 usage error.", c)
	manifestPath := fs.String("manifest", "", "a manifest `FILE` to check too")
	var domains multiFlag
	fs.Var(&domains, "domain", "a domain `D` the certificate must cover (repeatable)")
	roots := fs.String("trust-roots", "", "a PEM `FILE` of extra trusted roots (private CA)")
	allowUntrusted := fs.Bool("allow-untrusted", false, "accept a chain that does not verify (warn instead)")
	warnDays := fs.Int("warn-days", bundle.DefaultWarnDays, "warn when fewer than `N` days remain")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(files) == 0 {
		return usageError(c, "validate", "name at least one bundle file or folder")
	}
	opts := bundle.Options{AllowUntrusted: *allowUntrusted, WarnDays: *warnDays}
	if *roots != "" {
		if opts.Roots, err = bundle.LoadRoots(*roots); err != nil {
			return usageError(c, "validate", err.Error())
		}
	}
	srcs, err := readBundleSources(files)
	if err != nil {
		return usageError(c, "validate", err.Error())
	}
	var notices []string
	if *manifestPath != "" {
		m, err := manifest.Load(*manifestPath, products().Catalog())
		if err != nil {
			fmt.Fprintf(c.stderr, "certdrop validate: %v\n", err)
			return exitUsage
		}
		notices = m.Notices()
	}
	out := validateAll(ctx, srcs, opts, domains)
	out.Warnings = append(out.Warnings, notices...)
	switch {
	case *asJSON:
		printJSON(c.stdout, out)
	case out.Error != nil:
		printValidate(c.stdout, validateResult{Sources: out.Sources, Warnings: []string{}, Error: out.Error})
	case out.single():
		// One bundle reads as one: the folder's warnings with its own.
		r := out.Bundles[0]
		r.Warnings = append(append([]string{}, r.Warnings...), out.Warnings...)
		printValidate(c.stdout, r)
	default:
		printValidateAll(c.stdout, *out)
	}
	if !out.Valid {
		return exitFail
	}
	return exitOK
}

// validateOutput is what `certdrop validate --json` prints, one object
// whatever the number of bundles: each bundle the files form, what formed
// none, and the verdict on them all.
type validateOutput struct {
	// Valid is the verdict: every bundle valid, no file rejected, every
	// --domain covered by a bundle.
	Valid   bool     `json:"valid"`
	Sources []string `json:"sources"`
	// Bundles holds one entry per bundle the files form (one for a
	// certbot or acme.sh folder, one per certificate in lego's
	// certificates/ folder). With a single bundle, its entry checks the
	// --domain names too.
	Bundles  []validateResult `json:"bundles"`
	Rejected []rejectedPart   `json:"rejected"`
	Unused   []string         `json:"unused"`
	// Domains says, for each --domain, whether a bundle covers it.
	Domains  []domainVerdict `json:"domains"`
	Warnings []string        `json:"warnings"`
	// Error says why the files form no bundle at all (Bundles is then
	// empty).
	Error *problem `json:"error,omitempty"`
}

// single reports whether the files form exactly one bundle and no
// rejected part (certbot's, acme.sh's folders, a combined file), which
// validate prints as one.
func (o *validateOutput) single() bool {
	return o.Error == nil && len(o.Bundles) == 1 && len(o.Rejected) == 0
}

// rejectedPart is a file that formed no bundle, and why. Incomplete: the
// other half (a key, a certificate) may still arrive.
type rejectedPart struct {
	Source     string `json:"source"`
	Incomplete bool   `json:"incomplete"`
	problem
}

// validateAll splits the sources into bundles and validates each. When
// they form exactly one bundle and nothing else, or no bundle at all, that
// bundle (from bundle.Parse when Split forms none) checks the --domain
// names itself, with a hint that lists its names.
func validateAll(ctx context.Context, srcs []bundle.Source, opts bundle.Options, domains []string) *validateOutput {
	var names []string
	for _, s := range srcs {
		names = append(names, s.Name)
	}
	out := &validateOutput{Sources: names, Bundles: []validateResult{}, Rejected: []rejectedPart{}, Unused: []string{},
		Domains: []domainVerdict{}, Warnings: []string{}}
	failed := func(err error) *validateOutput {
		out.Error = problemOf(err)
		return out
	}
	f, err := bundle.Split(ctx, srcs, opts)
	if err != nil {
		return failed(err)
	}
	one := func(b *bundle.Bundle) *validateOutput {
		r := validateBundle(b, names, opts, domains)
		out.Valid, out.Bundles = r.Valid, append(out.Bundles, r)
		out.Domains = append(out.Domains, r.Domains...)
		return out
	}
	if len(f.Bundles) == 0 {
		// No bundle: Parse says best what one bundle lacks, unless the
		// files hold several keys.
		b, err := bundle.Parse(srcs, opts)
		switch {
		case errors.Is(err, bundle.ErrMultipleKeys):
		case err != nil:
			return failed(err)
		default:
			return one(b)
		}
	}
	out.Unused = append(out.Unused, f.Unused...)
	out.Warnings = append(out.Warnings, f.Warnings...)
	if len(f.Bundles) == 1 && len(f.Rejected) == 0 {
		return one(f.Bundles[0])
	}
	out.Valid = true
	for _, b := range f.Bundles {
		r := validateBundle(b, b.Sources, opts, nil)
		out.Valid = out.Valid && r.Valid
		out.Bundles = append(out.Bundles, r)
	}
	for _, e := range f.Rejected {
		out.Valid = false
		out.Rejected = append(out.Rejected, rejectedPart{Source: e.Source, Incomplete: bundle.IsIncomplete(e), problem: *problemOf(e)})
	}
	for _, d := range domains {
		covered := false
		for _, b := range f.Bundles {
			covered = covered || b.Covers(d)
		}
		out.Domains = append(out.Domains, domainVerdict{Domain: d, Covered: covered})
		out.Valid = out.Valid && covered
	}
	return out
}

// validateBundle validates a parsed bundle read from sources, and checks
// that it covers domains.
func validateBundle(b *bundle.Bundle, sources []string, opts bundle.Options, domains []string) validateResult {
	res := validateResult{Sources: sources, Warnings: []string{}}
	id := b.Identity()
	res.Bundle = &id
	days := bundle.DaysLeft(b.Leaf, time.Now())
	res.DaysLeft = &days
	for _, cert := range b.Chain() {
		res.Chain = append(res.Chain, chainEntry{
			Subject:     cert.Subject.CommonName,
			Issuer:      cert.Issuer.CommonName,
			NotAfter:    cert.NotAfter.UTC(),
			Fingerprint: bundle.Fingerprint(cert),
		})
	}
	err := b.Validate(opts)
	res.Warnings = append(res.Warnings, b.Warnings...)
	if err != nil {
		res.Error = problemOf(err)
	}
	res.Valid = err == nil
	for _, d := range domains {
		ok := b.Covers(d)
		res.Domains = append(res.Domains, domainVerdict{Domain: d, Covered: ok})
		if !ok {
			res.Valid = false
			if res.Error == nil {
				hint := "its names are: " + strings.Join(id.SANs, ", ")
				if len(id.SANs) == 0 {
					hint = "it names no DNS name (subject alternative name), and its CN does not count"
				}
				res.Error = &problem{Message: fmt.Sprintf("the certificate does not cover %s", d), Hint: hint}
			}
		}
	}
	return res
}

func printValidate(w io.Writer, r validateResult) {
	fmt.Fprintf(w, "Bundle:       %s\n", strings.Join(r.Sources, ", "))
	if r.Bundle != nil {
		id := r.Bundle
		fmt.Fprintf(w, "Subject:      %s\n", id.CommonName)
		fmt.Fprintf(w, "Names (SAN):  %s\n", strings.Join(id.SANs, ", "))
		fmt.Fprintf(w, "Issuer:       %s\n", id.Issuer)
		fmt.Fprintf(w, "Key:          %s\n", id.KeyType)
		fmt.Fprintf(w, "Valid:        %s to %s (%d days left)\n",
			id.NotBefore.Format(time.DateOnly), id.NotAfter.Format(time.DateOnly), *r.DaysLeft)
		fmt.Fprintf(w, "Serial:       %s\n", id.Serial)
		fmt.Fprintf(w, "Fingerprint:  SHA-256 %s\n", id.Fingerprint)
		fmt.Fprintln(w, "Chain:")
		for i, e := range r.Chain {
			role := "intermediate"
			if i == 0 {
				role = "leaf"
			}
			fmt.Fprintf(w, "  %d. %-40s issued by %s, expires %s (%s)\n",
				i+1, e.Subject, e.Issuer, e.NotAfter.Format(time.DateOnly), role)
		}
	}
	writeDomainsAndWarnings(w, r.Domains, r.Warnings, "NOT covered")
	if r.Valid {
		fmt.Fprintln(w, "Verdict:      valid")
		return
	}
	fmt.Fprintf(w, "Verdict:      INVALID: %s\n", r.Error.Message)
	if r.Error.Hint != "" {
		fmt.Fprintf(w, "What to do:   %s\n", r.Error.Hint)
	}
}

// printValidateAll prints each bundle as printValidate does, then what
// formed no bundle, and the overall verdict.
func printValidateAll(w io.Writer, r validateOutput) {
	fmt.Fprintf(w, "Files:        %d, forming %d bundle(s)\n", len(r.Sources), len(r.Bundles))
	for i, b := range r.Bundles {
		fmt.Fprintf(w, "\n== Bundle %d of %d\n", i+1, len(r.Bundles))
		printValidate(w, b)
	}
	if len(r.Rejected)+len(r.Unused)+len(r.Domains)+len(r.Warnings) > 0 {
		fmt.Fprintln(w)
	}
	for _, p := range r.Rejected {
		kind := "rejected"
		if p.Incomplete {
			kind = "incomplete"
		}
		fmt.Fprintf(w, "%-13s %s\n", strings.ToUpper(kind[:1])+kind[1:]+":", p.Message)
		if p.Hint != "" {
			fmt.Fprintf(w, "What to do:   %s\n", p.Hint)
		}
	}
	for _, u := range r.Unused {
		fmt.Fprintf(w, "Unused:       %s (no bundle here needs it)\n", u)
	}
	writeDomainsAndWarnings(w, r.Domains, r.Warnings, "NOT covered by any bundle")
	invalid := 0
	for _, b := range r.Bundles {
		if !b.Valid {
			invalid++
		}
	}
	if r.Valid {
		fmt.Fprintf(w, "Overall:      valid (%d bundle(s))\n", len(r.Bundles))
		return
	}
	fmt.Fprintf(w, "Overall:      INVALID: %d of %d bundle(s) invalid, %d file(s) rejected\n", invalid, len(r.Bundles), len(r.Rejected))
}

// writeDomainsAndWarnings prints the --domain verdicts and the warnings.
func writeDomainsAndWarnings(w io.Writer, domains []domainVerdict, warnings []string, notCovered string) {
	if len(domains) > 0 {
		fmt.Fprintln(w, "Domains:")
		for _, d := range domains {
			v := "covered"
			if !d.Covered {
				v = notCovered
			}
			fmt.Fprintf(w, "  %-40s %s\n", d.Domain, v)
		}
	}
	for _, wn := range warnings {
		fmt.Fprintf(w, "Warning:      %s\n", wn)
	}
}
