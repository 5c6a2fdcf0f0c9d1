package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/report"
)

// RollbackOptions tune a rollback.
type RollbackOptions struct {
	// To is the name of the certificate to roll back to, as it is in CAS
	// (certdrop-<cn>-<yyyymmdd>-<fp8>: a report's certName, or prune's
	// list).
	To string
	// DryRun describes the targets and reports which would be set.
	DryRun bool
	// Now is the clock certificates' expiry is judged by; nil: time.Now.
	Now func() time.Time
	// Fanout is the base of the fan-out options (quotas, retries, the
	// deadline); Rollback and DryRun are set over it.
	Fanout fanout.Options
	// Meta describes the run for the report.
	Meta report.Meta
	// Products plan the calls by reference (product.Registry).
	Products plan.Products
}

// RefusedError is a rollback certdrop will not start: nothing was set.
type RefusedError struct {
	// Code is "RollbackNotInCAS", "RollbackExpired", "RollbackCoversNothing"
	// or "RollbackNoName".
	Code    string
	Message string
	Hint    string
}

// Error returns the message and the hint.
func (e *RefusedError) Error() string { return e.Message + "; " + e.Hint }

// Rollback redeploys a certificate already in Certificate Management
// Service to every manifest target it covers that carries a later one,
// by reference (CertType=cas), without its key: the key stays in CAS.
// Targets carrying it already end unchanged, those carrying an earlier
// certificate (or none) skipped. It refuses, setting nothing, when the
// certificate is not in CAS in any region the manifest uses (deleted, or
// never uploaded), when it has expired, or when it covers no target. A
// target whose CAS region lacks the certificate fails (it cannot be
// uploaded there without the key).
func Rollback(ctx context.Context, client fanout.Client, cas fanout.CASClient, m *manifest.Manifest, o RollbackOptions) (*report.Report, error) {
	start := time.Now()
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	name := strings.TrimSpace(o.To)
	if name == "" {
		return nil, &RefusedError{Code: "RollbackNoName", Message: "no certificate to roll back to was named",
			Hint: "name one with --to (or \"to\"): a certName from an earlier report, or one certdrop prune lists as kept"}
	}
	if cas == nil {
		return nil, fmt.Errorf("this API client cannot reach Certificate Management Service")
	}
	regs := regions(m)
	found := map[string]fanout.CASCert{}
	for _, r := range regs {
		list, err := listAll(ctx, cas, o.Fanout, r, "") // Keyword matches domains, not names
		if err != nil {
			return nil, fmt.Errorf("looking for %s in CAS (%s): %w", name, r, err)
		}
		for _, c := range list {
			if c.Name == name {
				found[r] = c
				break
			}
		}
	}
	var cert fanout.CASCert
	var ok bool
	for _, r := range regs {
		if cert, ok = found[r]; ok {
			break
		}
	}
	if !ok {
		return nil, &RefusedError{Code: "RollbackNotInCAS",
			Message: fmt.Sprintf("the certificate %s is not in Certificate Management Service (%s): it was deleted, or never uploaded", name, strings.Join(regs, ", ")),
			Hint:    "roll back to a certificate that is still there (certdrop prune lists them, kept and why), or deploy its bundle again"}
	}
	if expired(cert, now()) {
		return nil, &RefusedError{Code: "RollbackExpired",
			Message: fmt.Sprintf("the certificate %s expired on %s: browsers would refuse it", name, cert.NotAfter.UTC().Format(time.DateOnly)),
			Hint:    "roll back to a certificate that is still valid, or deploy a renewed one"}
	}
	if len(cert.SANs) == 0 && cert.CommonName != "" {
		// The listing gives the SANs; without them, the common name is all
		// there is to match targets with.
		cert.SANs = []string{cert.CommonName}
	}
	covered, _ := m.Match(casLeaf(cert), "")
	if len(covered) == 0 {
		return nil, &RefusedError{Code: "RollbackCoversNothing",
			Message: fmt.Sprintf("the certificate %s (%s) covers no target of the manifest", name, strings.Join(cert.SANs, ", ")),
			Hint:    "check the name: a rollback redeploys a certificate to the manifest's targets it covers"}
	}

	p := &plan.Plan{
		Bundle: bundle.Identity{Fingerprint: cert.Fingerprint, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
			CommonName: cert.CommonName, SANs: cert.SANs},
		CertName: name, CASName: name, Replace: plan.ReplaceAlways,
	}
	calls := make([]plan.Call, len(covered))
	missing := map[int]error{}
	sub := *p
	var at []int
	for i, t := range covered {
		c, in := found[t.CertRegion()]
		call, err := plan.Reference(o.Products, t, name, c.ID)
		if errors.Is(err, plan.ErrNoReference) {
			calls[i] = call
			missing[i] = &RefusedError{Code: "RollbackNoReference",
				Message: fmt.Sprintf("%s cannot be set by reference: %s %v; no Set was sent", name, t.Product, plan.ErrNoReference),
				Hint:    "deploy the certificate's bundle again (certdrop push or deploy): a rollback has no key to send"}
			continue
		}
		if err != nil {
			return nil, err
		}
		calls[i] = call
		if !in {
			missing[i] = &RefusedError{Code: "RollbackNotInRegion",
				Message: fmt.Sprintf("%s is not in CAS %s, this target's CAS region; no Set was sent", name, t.CertRegion()),
				Hint:    "it cannot be uploaded there without its key: deploy its bundle with delivery: cas, or set this target by hand"}
			continue
		}
		sub.Calls = append(sub.Calls, call)
		at = append(at, i)
	}
	p.Calls = calls
	fo := o.Fanout
	fo.Rollback, fo.DryRun, fo.Force = true, o.DryRun, false
	results := make([]fanout.Result, len(calls))
	for i, err := range missing {
		results[i] = fanout.Result{Call: calls[i], State: fanout.Failed, Err: err}
	}
	if len(sub.Calls) > 0 {
		for j, r := range fanout.Run(ctx, client, &sub, fo) {
			results[at[j]] = r
		}
	}
	meta := o.Meta
	meta.DryRun = o.DryRun
	if meta.StartedAt.IsZero() {
		meta.StartedAt = start
	}
	if len(meta.Keys) == 0 {
		meta.Keys = []string{"cas:" + name}
	}
	rep := report.New(meta, p, results, time.Now())
	rep.Mode = "rollback"
	for _, r := range regs {
		if c, ok := found[r]; ok {
			n := 0
			for _, t := range covered {
				if t.CertRegion() == r {
					n++
				}
			}
			rep.CAS = append(rep.CAS, report.CASUpload{Region: r, Name: name, CertID: c.ID, Found: true, RequestIDs: []string{}, Targets: n})
		}
	}
	return rep, nil
}

// APICode is the refusal's code, for a report's own field (with
// APIMessage and APIHint, it makes RefusedError a report.APIError).
func (e *RefusedError) APICode() string { return e.Code }

// APIMessage is the refusal's message without its hint.
func (e *RefusedError) APIMessage() string { return e.Message }

// APIHint is what to do about the refusal.
func (e *RefusedError) APIHint() string { return e.Hint }
