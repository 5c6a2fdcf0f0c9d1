package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
)

// validateResult is what `certdrop validate --json` prints.
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

func runValidate(_ context.Context, c *cli, args []string) int {
	fs := newFlagSet("validate", "FILE|DIR... [--domain D]... [--trust-roots FILE] [--allow-untrusted] [--warn-days N] [--json]",
		"Checks a certificate bundle before it is deployed: structure, key match, chain, validity,\n"+
			"trust and, with --domain, coverage. Exit 0 valid, 1 invalid, 2 usage error.", c)
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
	res := validate(srcs, opts, domains)
	if *asJSON {
		printJSON(c.stdout, res)
	} else {
		printValidate(c.stdout, res)
	}
	if !res.Valid {
		return exitFail
	}
	return exitOK
}

func validate(srcs []bundle.Source, opts bundle.Options, domains []string) validateResult {
	res := validateResult{Warnings: []string{}}
	for _, s := range srcs {
		res.Sources = append(res.Sources, s.Name)
	}
	b, err := bundle.Parse(srcs, opts)
	if err != nil {
		res.Error = problemOf(err)
		return res
	}
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
	err = b.Validate(opts)
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
				res.Error = &problem{
					Message: fmt.Sprintf("the certificate does not cover %s", d),
					Hint:    "its names are: " + strings.Join(id.SANs, ", "),
				}
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
	if len(r.Domains) > 0 {
		fmt.Fprintln(w, "Domains:")
		for _, d := range r.Domains {
			v := "covered"
			if !d.Covered {
				v = "NOT covered"
			}
			fmt.Fprintf(w, "  %-40s %s\n", d.Domain, v)
		}
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "Warning:      %s\n", wn)
	}
	if r.Valid {
		fmt.Fprintln(w, "Verdict:      valid")
		return
	}
	fmt.Fprintf(w, "Verdict:      INVALID: %s\n", r.Error.Message)
	if r.Error.Hint != "" {
		fmt.Fprintf(w, "What to do:   %s\n", r.Error.Hint)
	}
}
