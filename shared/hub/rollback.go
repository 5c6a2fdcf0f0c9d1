package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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
	// Open opens the accounts the manifest names, as a deployment does
	// (job.OpenAccounts): a target in another account is rolled back
	// there, to the certificate in that account's CAS. Nil: only the
	// function's own account, and a target in another one fails.
	Open fanout.OpenAccount
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
// certificate (or none) skipped. A target in another account (account:)
// is set there, to the certificate of that name in that account's CAS,
// through o.Open; every account runs at once with its own pacers. It
// refuses, setting nothing, when the certificate is in CAS in no region
// the manifest uses in any account (deleted, or never uploaded), when it
// has expired, or when it covers no target. A target whose account's CAS
// region lacks the certificate fails (it cannot be uploaded there without
// the key), and so do the targets of an account that cannot be reached.
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
	accs := newAccounts(client, cas, o.Open)
	look := lookup(ctx, accs, m, name, o.Fanout)
	cert, ok := look.first()
	if !ok {
		if err := look.firstErr(); err != nil {
			return nil, err
		}
		return nil, &RefusedError{Code: "RollbackNotInCAS",
			Message: fmt.Sprintf("the certificate %s is not in Certificate Management Service (%s): it was deleted, or never uploaded", name, look.where()),
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
	byAccount := map[string][]int{} // the calls to run, by account
	var accounts []string
	for i, t := range covered {
		c, in := look.found[t.Account][t.CertRegion()]
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
		if err := look.errs[t.Account]; err != nil {
			missing[i] = err
			if t.Account != "" {
				missing[i] = &fanout.AccountError{Account: t.Account, Err: err}
			}
			continue
		}
		if !in {
			missing[i] = &RefusedError{Code: "RollbackNotInRegion",
				Message: fmt.Sprintf("%s is not in CAS %s%s, this target's CAS region; no Set was sent", name, t.CertRegion(), ofAccount(t.Account)),
				Hint:    "it cannot be uploaded there without its key: deploy its bundle with delivery: cas, or set this target by hand"}
			continue
		}
		if _, ok := byAccount[t.Account]; !ok {
			accounts = append(accounts, t.Account)
		}
		byAccount[t.Account] = append(byAccount[t.Account], i)
	}
	p.Calls = calls
	fo := o.Fanout
	fo.Rollback, fo.DryRun, fo.Force = true, o.DryRun, false
	results := make([]fanout.Result, len(calls))
	for i, err := range missing {
		results[i] = fanout.Result{Call: calls[i], State: fanout.Failed, Err: err}
	}
	var wg sync.WaitGroup
	for _, a := range accounts {
		at := byAccount[a]
		sub := *p
		sub.Calls = make([]plan.Call, len(at))
		for j, i := range at {
			sub.Calls[j] = calls[i]
		}
		ac, _, _ := accs.get(ctx, a) // opened by the lookup
		afo := fo
		if fo.Logger != nil && a != "" {
			afo.Logger = fo.Logger.With("account", a)
		}
		wg.Go(func() {
			for j, r := range fanout.Run(ctx, ac, &sub, afo) {
				results[at[j]] = r
			}
		})
	}
	wg.Wait()
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
	for _, a := range look.accounts {
		for _, r := range look.regions[a] {
			c, ok := look.found[a][r]
			if !ok {
				continue
			}
			n := 0
			for _, t := range covered {
				if t.Account == a && t.CertRegion() == r {
					n++
				}
			}
			rep.CAS = append(rep.CAS, report.CASUpload{Account: a, Region: r, Name: name, CertID: c.ID, Found: true, RequestIDs: []string{}, Targets: n})
		}
	}
	return rep, nil
}

// found is where a rollback's certificate is in CAS: by account (the
// manifest's name; "" the function's own) and region.
type found struct {
	accounts []string            // the accounts looked in, the function's own first
	regions  map[string][]string // the regions looked in, by account
	found    map[string]map[string]fanout.CASCert
	// errs are why an account could not be looked in: its role could not
	// be assumed, it has no CAS client, or a listing failed.
	errs map[string]error
}

// lookup looks for the certificate named name in the CAS of every
// account the manifest's targets use, in the regions that account's
// targets reference.
func lookup(ctx context.Context, accs *accounts, m *manifest.Manifest, name string, opts fanout.Options) *found {
	f := &found{regions: map[string][]string{}, found: map[string]map[string]fanout.CASCert{}, errs: map[string]error{}}
	f.accounts, _ = accountTargets(m)
	for _, a := range f.accounts {
		f.regions[a] = regions(m, a)
		_, cas, err := accs.get(ctx, a)
		if err == nil && cas == nil {
			err = fmt.Errorf("this API client cannot reach Certificate Management Service")
		}
		if err != nil {
			f.errs[a] = err
			continue
		}
		f.found[a] = map[string]fanout.CASCert{}
		for _, r := range f.regions[a] {
			list, err := listAll(ctx, cas, opts, r, "") // Keyword matches domains, not names
			if err != nil {
				f.errs[a] = fmt.Errorf("looking for %s in CAS (%s%s): %w", name, r, ofAccount(a), err)
				break
			}
			for _, c := range list {
				if c.Name == name {
					f.found[a][r] = c
					break
				}
			}
		}
	}
	return f
}

// first returns the certificate as the first account and region that
// holds it lists it.
func (f *found) first() (fanout.CASCert, bool) {
	for _, a := range f.accounts {
		for _, r := range f.regions[a] {
			if c, ok := f.found[a][r]; ok {
				return c, true
			}
		}
	}
	return fanout.CASCert{}, false
}

// firstErr returns why the first account that could not be looked in
// could not.
func (f *found) firstErr() error {
	for _, a := range f.accounts {
		if err := f.errs[a]; err != nil {
			if a != "" {
				return &fanout.AccountError{Account: a, Err: err}
			}
			return err
		}
	}
	return nil
}

// where names the regions looked in, and the accounts when there are
// several: "cn-hangzhou" or "cn-hangzhou; media: cn-hangzhou".
func (f *found) where() string {
	var parts []string
	for _, a := range f.accounts {
		if len(f.regions[a]) == 0 {
			continue
		}
		rs := strings.Join(f.regions[a], ", ")
		if a != "" {
			rs = a + ": " + rs
		}
		parts = append(parts, rs)
	}
	return strings.Join(parts, "; ")
}

// ofAccount is ", account <name>" for another account, "" for the
// function's own.
func ofAccount(a string) string {
	if a == "" {
		return ""
	}
	return ", account " + a
}

// APICode is the refusal's code, for a report's own field (with
// APIMessage and APIHint, it makes RefusedError a report.APIError).
func (e *RefusedError) APICode() string { return e.Code }

// APIMessage is the refusal's message without its hint.
func (e *RefusedError) APIMessage() string { return e.Message }

// APIHint is what to do about the refusal.
func (e *RefusedError) APIHint() string { return e.Hint }
