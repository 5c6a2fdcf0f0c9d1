package hub

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/pin"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/report"
)

// DefaultKeep is how many of the newest certificates for the same names
// pruning keeps in each region, carried or not: the current one and one
// to roll back to.
const DefaultKeep = 2

// PruneOptions tune a prune.
type PruneOptions struct {
	// Delete deletes; without it the prune is a dry run that only says
	// what it would delete (certdrop prune without --yes).
	Delete bool
	// Keep is how many of the newest certificates for the same names are
	// kept in each region; 0 means DefaultKeep.
	Keep int
	// Now is the clock expiry is judged by; nil: time.Now.
	Now func() time.Time
	// Fanout is the base of the options of the Describe calls and of the
	// CAS calls' retries (quotas, deadline).
	Fanout fanout.Options
	// Products plan the calls that describe the manifest's targets
	// (product.Registry).
	Products plan.Products
	// Open opens the accounts the manifest names, as a deployment does
	// (job.OpenAccounts), each with its client and CAS client. nil: only
	// the function's own account is opened, and the targets of other
	// accounts are reported as a problem, not silently skipped.
	Open fanout.OpenAccount
}

// PruneResult is what a prune did and why. Its JSON names are part of
// the outcome and report format.
type PruneResult struct {
	// DryRun: nothing was deleted; Deleted lists what would have been.
	DryRun bool `json:"dryRun"`
	// Deleted are the certificates deleted (or, in a dry run, that would
	// be); Kept those left, each with why; Failed the deletions CAS
	// refused.
	Deleted []PrunedCert `json:"deleted"`
	Kept    []PrunedCert `json:"kept"`
	Failed  []PrunedCert `json:"failed,omitempty"`
	// Problems are what kept the prune from seeing everything: an
	// account that could not be opened or a region that could not be
	// listed (nothing there was touched), targets that could not be
	// described (only expired certificates of their account were
	// deleted). Each names its account when it is not the function's own.
	Problems []report.Error `json:"problems,omitempty"`
	// Targets counts the manifest targets described to learn what they
	// carry, in every account.
	Targets    int   `json:"targets"`
	DurationMs int64 `json:"durationMs"`
}

// OK reports whether the prune saw everything and every deletion it
// tried succeeded.
func (r *PruneResult) OK() bool { return len(r.Failed) == 0 && len(r.Problems) == 0 }

// PrunedCert is one certificate a prune looked at.
type PrunedCert struct {
	// Account is the manifest's name of the account whose CAS or store
	// holds it; empty for the function's own.
	Account  string    `json:"account,omitempty"`
	Region   string    `json:"region"`
	Name     string    `json:"name"`
	CertID   int64     `json:"certId"`
	NotAfter time.Time `json:"notAfter"`
	// Store and ID name a certificate a product keeps in a store of its
	// own (fanout.StoreCert): the store ("esa example.com", an ESA site's
	// certificates; "clb cn-hangzhou", CLB's server certificates of a
	// region) and the certificate's id there; Region and CertID are then
	// empty.
	Store string `json:"store,omitempty"`
	ID    string `json:"id,omitempty"`
	// Reason says why it was deleted or kept.
	Reason string        `json:"reason"`
	Error  *report.Error `json:"error,omitempty"`
}

// Where says where the certificate is: "CertId 123, cn-hangzhou" in CAS,
// "esa example.com, Id 17" or "clb cn-hangzhou, Id 1231579085529123_abc"
// in a product's own store, followed by ", account media" when it is in
// another account than the function's own.
func (c PrunedCert) Where() string {
	w := fmt.Sprintf("CertId %d, %s", c.CertID, c.Region)
	if c.Store != "" {
		w = fmt.Sprintf("%s, Id %s", c.Store, c.ID)
	}
	if c.Account != "" {
		w += ", account " + c.Account
	}
	return w
}

// Prune deletes from Certificate Management Service the certificates
// certdrop named (certdrop-<cn>-<date>-<fp8>, the date and fingerprint
// prefix the certificate's own) that have expired, or that no manifest
// target carries and that are older than the newest Keep for the same
// names in their region. A certificate certdrop did not name is never
// touched. What the targets carry is read by Describe (paced like a
// deployment); when a target cannot be described, only expired
// certificates are deleted. Both CAS regions are looked at (the products
// keep certificates set by upload in cn-hangzhou too); a region that
// cannot be listed is reported and left alone. The stores of products
// that keep certificates of their own (ESA sites, CLB's server
// certificates) are pruned too (pruneStores).
//
// It acts in the function's own account (client and cas) and in every
// account a manifest target names (o.Open), one account after another:
// each account's CAS and stores are read and pruned with that account's
// clients, and its certificates are judged against its own targets only.
// An account that cannot be opened is reported and nothing in it is
// touched; the others go on.
func Prune(ctx context.Context, client fanout.Client, cas fanout.CASClient, m *manifest.Manifest, o PruneOptions) *PruneResult {
	start := time.Now()
	res := &PruneResult{DryRun: !o.Delete, Deleted: []PrunedCert{}, Kept: []PrunedCert{}}
	defer func() { res.DurationMs = time.Since(start).Milliseconds() }()
	keep := o.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	names, targets := accountTargets(m)
	accts := newAccounts(client, cas, o.Open)
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			left := "the function's own account and every other"
			if name != "" {
				left = fmt.Sprintf("%d account(s) from %s on", len(names)-i, name)
			}
			res.Problems = append(res.Problems, report.Error{Code: "Stopped", Transient: true,
				Message: fmt.Sprintf("the prune was stopped (%v): nothing in %s was touched", err, left)})
			return res
		}
		ac, acas, err := accts.get(ctx, name)
		if err != nil {
			e := report.ErrorOf(err)
			if e.Code == "" || e.Code == "Error" {
				e.Code = "AccountUnavailable"
			}
			e.Message = fmt.Sprintf("account %s could not be opened: %v; nothing in it was touched", name, err)
			res.Problems = append(res.Problems, *e)
			continue
		}
		one := &PruneResult{}
		pruneAccount(ctx, ac, acas, targets[name], o, keep, one)
		for _, list := range []*[]PrunedCert{&one.Deleted, &one.Kept, &one.Failed} {
			for j := range *list {
				(*list)[j].Account = name
			}
		}
		res.Deleted = append(res.Deleted, one.Deleted...)
		res.Kept = append(res.Kept, one.Kept...)
		res.Failed = append(res.Failed, one.Failed...)
		for _, p := range one.Problems {
			res.Problems = append(res.Problems, *inAccount(name, p))
		}
		res.Targets += one.Targets
	}
	return res
}

// accountTargets returns the accounts a prune or a rollback acts in, the
// function's own ("") first and then the others in the order the manifest's targets
// first name them, and the targets of each.
func accountTargets(m *manifest.Manifest) ([]string, map[string][]manifest.Target) {
	names := []string{""}
	targets := map[string][]manifest.Target{}
	for _, t := range m.Targets {
		if _, ok := targets[t.Account]; !ok && t.Account != "" {
			names = append(names, t.Account)
		}
		targets[t.Account] = append(targets[t.Account], t)
	}
	return names, targets
}

// inAccount names the account in a problem's message when it is not the
// function's own.
func inAccount(name string, e report.Error) *report.Error {
	if name != "" {
		e.Message = "account " + name + ": " + e.Message
	}
	return &e
}

// pruneAccount prunes one account's CAS and stores, through that
// account's clients, judging its certificates against targets, the
// manifest's targets in that account. Its entries and problems go to res
// without the account's name (Prune adds it).
func pruneAccount(ctx context.Context, client fanout.Client, cas fanout.CASClient, targets []manifest.Target, o PruneOptions, keep int, res *PruneResult) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if cas == nil {
		res.Problems = append(res.Problems, report.Error{Code: "NoCAS", Message: "this API client cannot reach Certificate Management Service"})
		return
	}

	var certs []fanout.CASCert
	for _, r := range manifest.CASRegions() {
		list, err := listAll(ctx, cas, o.Fanout, r, "") // Keyword matches domains, not names: names are checked here
		if err != nil {
			e := report.ErrorOf(err)
			e.Message = fmt.Sprintf("listing CAS %s: %s; nothing there was touched", r, e.Message)
			res.Problems = append(res.Problems, *e)
			continue
		}
		seen := map[int64]bool{}
		for _, c := range list {
			if !seen[c.ID] {
				seen[c.ID] = true
				certs = append(certs, c)
			}
		}
	}

	calls, complete := targetCalls(o.Products, targets, res)
	carried, described := carriedBy(ctx, client, calls, o.Fanout, res)
	complete = complete && described

	// Newest first within each region and set of names.
	groups := map[string][]fanout.CASCert{}
	for _, c := range certs {
		if ours(c) {
			k := groupKey(c)
			groups[k] = append(groups[k], c)
		}
	}
	rank := map[string]int{} // region/id -> 0 for the newest
	for _, g := range groups {
		slices.SortFunc(g, func(a, b fanout.CASCert) int {
			return cmp.Or(b.NotBefore.Compare(a.NotBefore), b.NotAfter.Compare(a.NotAfter), cmp.Compare(b.ID, a.ID))
		})
		for i, c := range g {
			rank[idKey(c)] = i
		}
	}

	pruneStores(ctx, client, calls, o, keep, res)

	for _, c := range certs {
		pc := PrunedCert{Region: c.Region, Name: c.Name, CertID: c.ID, NotAfter: c.NotAfter}
		names := strings.Join(namesOf(c), ", ")
		by := slices.Clone(carried[c.Name])
		if c.Fingerprint != "" {
			by = append(by, carried["sha256:"+c.Fingerprint]...)
		}
		slices.Sort(by)
		by = slices.Compact(by)
		del := false
		switch {
		case !ours(c):
			pc.Reason = "not named by certdrop: never touched"
		case expired(c, now()):
			del = true
			pc.Reason = "expired " + c.NotAfter.UTC().Format(time.DateOnly)
			if len(by) > 0 {
				pc.Reason += fmt.Sprintf("; still carried by %s: deploy a valid certificate there", targetList(by))
			}
		case len(by) > 0:
			pc.Reason = "carried by " + targetList(by)
		case !complete:
			pc.Reason = "not every target could be described, so it may be carried: kept to be safe"
		case rank[idKey(c)] < keep:
			pc.Reason = fmt.Sprintf("one of the newest %d for %s in %s (kept to roll back to)", keep, names, c.Region)
		default:
			del = true
			pc.Reason = fmt.Sprintf("carried by no target and older than the newest %d for %s in %s", keep, names, c.Region)
		}
		if !del {
			res.Kept = append(res.Kept, pc)
			continue
		}
		if !o.Delete {
			res.Deleted = append(res.Deleted, pc)
			continue
		}
		err := fanout.CallCAS(ctx, o.Fanout, func() error { return cas.DeleteCAS(ctx, c.Region, c.ID) })
		if err != nil {
			pc.Error = report.ErrorOf(err)
			res.Failed = append(res.Failed, pc)
			continue
		}
		res.Deleted = append(res.Deleted, pc)
	}
}

// pruneStores prunes the stores of the products that keep certificates
// of their own (fanout.Pruner: an ESA site's, CLB's server certificates
// of a region), those the manifest's targets use: certdrop's
// certificates that have expired or are superseded, never one certdrop
// did not put there, never one in use. The calls are retried as the CAS
// calls are.
func pruneStores(ctx context.Context, client fanout.Client, calls []plan.Call, o PruneOptions, keep int, res *PruneResult) {
	pr, ok := client.(fanout.Pruner)
	if !ok || len(calls) == 0 {
		return
	}
	sp := pr.Prune(ctx, calls, retried{o.Fanout}, fanout.PruneOptions{Delete: o.Delete, Keep: keep, Now: o.now()})
	for _, p := range sp.Problems {
		e := report.ErrorOf(p.Err)
		e.Message = fmt.Sprintf("reading the certificates of %s: %s; nothing there was touched", p.Store, e.Message)
		res.Problems = append(res.Problems, *e)
	}
	for _, c := range sp.Certs {
		pc := PrunedCert{Store: c.Store, ID: c.ID, Name: c.Name, NotAfter: c.NotAfter, Reason: c.Reason}
		switch {
		case c.Err != nil:
			pc.Error = report.ErrorOf(c.Err)
			res.Failed = append(res.Failed, pc)
		case c.Delete:
			res.Deleted = append(res.Deleted, pc)
		default:
			res.Kept = append(res.Kept, pc)
		}
	}
}

// now is the prune's clock.
func (o PruneOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// retried is a fanout.Caller that retries each call as the CAS calls are
// (fanout.CallCAS): for a prune's few calls outside a run.
type retried struct{ o fanout.Options }

// Call makes the call, retrying throttled and transient failures.
func (r retried) Call(ctx context.Context, _ plan.API, send func() (string, error)) error {
	return fanout.CallCAS(ctx, r.o, func() error {
		_, err := send()
		return err
	})
}

// targetCalls plans the call of every target of targets (one account's);
// complete is false when a target could not be planned (the failures are
// added to res.Problems).
func targetCalls(products plan.Products, targets []manifest.Target, res *PruneResult) ([]plan.Call, bool) {
	var calls []plan.Call
	complete := true
	for _, t := range targets {
		c, err := plan.TargetCall(products, t)
		if err != nil {
			// The manifest parser refuses such targets; what one carries
			// is unknown, so nothing but the expired is deleted.
			complete = false
			res.Problems = append(res.Problems, report.Error{Code: "DescribeFailed",
				Message: fmt.Sprintf("describing %s: %v; only expired certificates were deleted", t, err)})
			continue
		}
		calls = append(calls, c)
	}
	return calls, complete
}

// carriedBy describes the targets of calls and returns, by certificate
// name and by "sha256:<fingerprint>", the targets carrying it; complete is
// false when a target could not be described (the failures are added to
// res.Problems).
func carriedBy(ctx context.Context, client fanout.Client, calls []plan.Call, opts fanout.Options, res *PruneResult) (map[string][]string, bool) {
	complete := true
	res.Targets = len(calls)
	carried := map[string][]string{}
	opts.DryRun = true
	for _, in := range fanout.Inspect(ctx, client, calls, opts) {
		label := string(in.Call.Target.Product) + " " + in.Call.DomainName
		if in.Err != nil || in.Installed == nil {
			complete = false
			e := &report.Error{Code: "DescribeFailed", Message: "no answer"}
			if in.Err != nil {
				e = report.ErrorOf(in.Err)
			}
			e.Message = fmt.Sprintf("describing %s: %s; only expired certificates were deleted", label, e.Message)
			res.Problems = append(res.Problems, *e)
			continue
		}
		if !in.Installed.HTTPS {
			continue
		}
		if n := in.Installed.CertName; n != "" {
			carried[n] = append(carried[n], label)
		}
		if fp := in.Installed.Fingerprint; fp != "" {
			carried["sha256:"+fp] = append(carried["sha256:"+fp], label)
		}
	}
	return carried, complete
}

// groupKey puts a certificate with the others for the same names in the
// same region: its SANs, else the CN part of its name.
func groupKey(c fanout.CASCert) string { return c.Region + "|" + strings.Join(namesOf(c), ",") }

// namesOf returns a certificate's names: its SANs as pin.Names has them
// (lower-cased, sorted, without duplicates), else the CN part of its
// certdrop name.
func namesOf(c fanout.CASCert) []string {
	if len(c.SANs) > 0 {
		return pin.Names(c.SANs, "")
	}
	if m := certdropName.FindStringSubmatch(c.Name); m != nil {
		return []string{m[1]}
	}
	return []string{c.Name}
}

func idKey(c fanout.CASCert) string { return fmt.Sprintf("%s/%d", c.Region, c.ID) }

// targetList names up to three targets and counts the rest.
func targetList(ts []string) string {
	if len(ts) <= 3 {
		return strings.Join(ts, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ts[:3], ", "), len(ts)-3)
}
