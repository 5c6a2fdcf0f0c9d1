package job

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// candidate is a valid bundle found by a reconcile.
type candidate struct {
	loc  *located
	plan *plan.Plan
}

// onTimer reconciles: it deploys the newest valid bundle of each
// certificate identity in the bucket wherever a target carries an older
// certificate or none (the fan-out skips the rest), then reports targets
// whose certificate expires within warnDays with nothing newer to deploy.
// It catches targets added to the manifest later, failed runs, and
// certificates changed by hand in the console.
func (inv *invocation) onTimer(ctx context.Context, t *event.TimerEvent) {
	rc := t.Reconcile
	bucket := rc.Bucket
	if bucket == "" {
		bucket = inv.r.Config.Bucket
	}
	if bucket == "" {
		inv.fail("NoBucket", "the reconcile names no bucket", `set CERTDROP_BUCKET, or "bucket" in the timer payload`)
		return
	}
	inv.bucket = bucket
	prefix := rc.Prefix
	if prefix == "" {
		prefix = inv.r.Config.TriggerPrefix
	}
	st, ok := inv.begin(ctx, bucket)
	if !ok {
		return
	}
	units, err := inv.units(ctx, st, prefix)
	if err != nil {
		inv.fail("StoreUnavailable", err.Error(), "")
		return
	}
	newest := map[string]candidate{}
	var order []string
	for _, u := range units {
		c, ok := inv.candidate(u)
		if !ok {
			continue
		}
		id := identityKey(c.plan.Bundle)
		cur, seen := newest[id]
		if !seen {
			order = append(order, id)
		}
		if !seen || c.plan.Bundle.NotAfter.After(cur.plan.Bundle.NotAfter) {
			newest[id] = c
		}
	}
	client, ok := inv.apiClient(ctx)
	if !ok {
		return
	}
	for _, id := range order {
		c := newest[id]
		rep := Run(ctx, client, c.plan, inv.manifest, c.loc.Keys, inv.runOptions(rc.DryRun, false))
		inv.out.Reports = append(inv.out.Reports, rep)
		inv.log.Info("reconciled", "unit", c.loc.Unit, "summary", report.SummaryLine(rep))
	}
	inv.expiring(ctx, client)
}

// units lists the bundles under prefix: every self-contained object, and
// per folder the other parts together.
func (inv *invocation) units(ctx context.Context, st store.Store, prefix string) ([]*located, error) {
	infos, err := st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	folders := map[string][]string{}
	var order []string
	for _, in := range infos {
		if !bundle.IsPartName(in.Key) || strings.HasPrefix(in.Key, inv.r.Config.ReportPrefix) {
			continue
		}
		f := folderOf(in.Key)
		if _, ok := folders[f]; !ok {
			order = append(order, f)
		}
		folders[f] = append(folders[f], in.Key)
	}
	var units []*located
	for _, f := range order {
		rest := &located{Unit: f}
		for _, k := range folders[f] {
			obj, err := st.Get(ctx, k)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			src := bundle.Source{Name: k, Data: obj.Data}
			if selfContained(obj) {
				units = append(units, &located{Unit: k, Keys: []string{k}, Sources: []bundle.Source{src}})
				continue
			}
			rest.Keys = append(rest.Keys, k)
			rest.Sources = append(rest.Sources, src)
		}
		if len(rest.Keys) > 0 && len(rest.Keys) <= bundle.MaxParts {
			units = append(units, rest)
		}
	}
	return units, nil
}

// candidate prepares a unit; bundles that are invalid (an old, expired
// bundle left in the bucket is normal) are noted as ignored, not failures.
func (inv *invocation) candidate(u *located) (candidate, bool) {
	d := &Deployment{Sources: u.Sources, Keys: u.Keys, ObjectKey: u.Keys[0], Manifest: inv.manifest, Roots: inv.roots, Now: inv.r.Now}
	p, _, err := d.Prepare()
	if err != nil {
		inv.out.Ignored = append(inv.out.Ignored, Skipped{Unit: u.Unit, Keys: u.Keys, Reason: "not deployable: " + err.Error()})
		return candidate{}, false
	}
	if len(p.Calls) == 0 && len(p.NotCovered) == 0 {
		inv.out.Ignored = append(inv.out.Ignored, Skipped{Unit: u.Unit, Keys: u.Keys, Reason: "covers no manifest target"})
		return candidate{}, false
	}
	return candidate{loc: u, plan: p}, true
}

// identityKey names what a certificate is for: its sorted names.
func identityKey(id bundle.Identity) string {
	names := append([]string(nil), id.SANs...)
	if len(names) == 0 {
		names = []string{id.CommonName}
	}
	for i := range names {
		names[i] = strings.ToLower(names[i])
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// expiring reports every manifest target whose certificate, after the
// reconcile, expires within warnDays. Targets no run touched are described.
func (inv *invocation) expiring(ctx context.Context, client fanout.Client) {
	now := inv.r.now()
	type key struct{ product, domain string }
	notAfter := map[key]time.Time{}
	certName := map[key]string{}
	for _, rep := range inv.out.Reports {
		for _, t := range rep.Targets {
			k := key{string(t.Product), t.Domain}
			switch {
			case t.State == fanout.Deployed || t.State == fanout.Unchanged:
				notAfter[k], certName[k] = rep.Bundle.NotAfter, rep.Bundle.CertName
			case t.Previous != nil && t.Previous.NotAfter != nil:
				notAfter[k], certName[k] = *t.Previous.NotAfter, t.Previous.CertName
			}
		}
	}
	var unknown []plan.Call
	for _, t := range inv.manifest.Targets {
		c, err := plan.TargetCall(t)
		if err != nil {
			continue
		}
		if _, ok := notAfter[key{string(t.Product), c.DomainName}]; !ok {
			unknown = append(unknown, c)
		}
	}
	opts := fanout.Options{StopAt: inv.stopAt, Quotas: inv.r.Config.Quotas, Logger: inv.log}
	for _, in := range fanout.Inspect(ctx, client, unknown, opts) {
		if in.Installed != nil && !in.Installed.NotAfter.IsZero() {
			k := key{string(in.Call.Target.Product), in.Call.DomainName}
			notAfter[k], certName[k] = in.Installed.NotAfter, in.Installed.CertName
		}
	}
	warn := inv.manifest.Defaults.WarnDays
	for _, t := range inv.manifest.Targets {
		c, err := plan.TargetCall(t)
		if err != nil {
			continue
		}
		k := key{string(t.Product), c.DomainName}
		na, ok := notAfter[k]
		if !ok {
			continue
		}
		days := int(na.Sub(now).Hours() / 24)
		if days < warn {
			inv.out.Expiring = append(inv.out.Expiring, Expiring{Product: k.product, Domain: k.domain, State: "expiring",
				CertName: certName[k], NotAfter: na.UTC().Format(time.RFC3339), DaysLeft: days})
		}
	}
}
