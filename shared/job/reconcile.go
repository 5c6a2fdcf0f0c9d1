package job

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/pin"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// found is what a reconcile keeps of a valid bundle between its two
// passes: where it is and what it is, not its content.
type found struct {
	unit        string
	keys        []string
	notAfter    time.Time
	fingerprint string
}

// onTimer reconciles: it deploys the newest valid bundle of each
// certificate identity in the bucket wherever a target carries an older
// certificate or none (the fan-out skips the rest), then reports targets
// whose certificate expires within warnDays with nothing newer to deploy.
// It catches targets added to the manifest later, failed runs, and
// certificates changed by hand in the console.
//
// It streams: the first pass reads one folder at a time (at most
// bundle.MaxParts objects of the store's size cap) and keeps of each valid
// bundle only its keys and expiry; the second re-reads the newest bundle of
// each certificate just before deploying it. An object that cannot be read
// or is over the size cap, and a folder with too many parts, are reported
// and skipped; the rest of the reconcile goes on.
func (inv *invocation) onTimer(ctx context.Context, t *event.TimerEvent) {
	cfg := inv.r.Config
	rc := t.Reconcile
	bucket, prefix := rc.Bucket, rc.Prefix
	if bucket == "" {
		bucket = cfg.Bucket
	}
	if prefix == "" {
		prefix = cfg.TriggerPrefix
	}
	if !inv.trusted(bucket, prefix) {
		return
	}
	st, ok := inv.begin(ctx)
	if !ok {
		return
	}
	inv.renewDue(ctx, st, rc.DryRun) // renew.go: first renew what is due, so the reconcile deploys it
	folders, err := inv.folders(ctx, st, prefix)
	if err != nil {
		inv.failErr("StoreUnavailable", err, "")
		return
	}
	newest := map[string]found{}
	var order []string
	for _, f := range folders {
		if err := inv.stopped(ctx); err != nil {
			inv.failErr("Deadline", fmt.Errorf("the reconcile stopped reading the bucket at %s: %w", shortKey(f.name), err),
				"the next reconcile (or FC's retry) reads the rest")
			break
		}
		for _, c := range inv.readFolder(ctx, st, f) {
			if hold, _ := inv.held(ctx, c.plan, c.loc.Unit, c.loc.Keys); hold {
				continue // a rollback's pin holds it back: the newest of the others is deployed
			}
			id := identityKey(c.plan.Bundle)
			cur, seen := newest[id]
			if !seen {
				order = append(order, id)
			}
			if !seen || c.plan.Bundle.NotAfter.After(cur.notAfter) {
				newest[id] = found{unit: c.loc.Unit, keys: c.loc.Keys, notAfter: c.plan.Bundle.NotAfter,
					fingerprint: c.plan.Bundle.Fingerprint}
			}
		}
	}
	client, ok := inv.apiClient(ctx)
	if !ok {
		return
	}
	for _, id := range order {
		f := newest[id]
		c, ok := inv.reread(ctx, st, f)
		if !ok {
			continue
		}
		var lifts *pin.Pin // a bundle issued after a rollback's pin lifts it once deployed
		if v, pn := inv.judge(ctx, c.plan); v == pin.Lifts {
			lifts = pn
		}
		rep := Run(ctx, client, c.plan, inv.manifest, shortKeys(c.loc.Keys), inv.runOptions(rc.DryRun, false))
		rep.Warnings = c.warnings
		inv.out.Reports = append(inv.out.Reports, rep)
		inv.log.Info("reconciled", "unit", shortKey(c.loc.Unit), "summary", report.SummaryLine(rep))
		inv.lift(ctx, lifts, rep, rc.DryRun)
	}
	inv.expiring(ctx, client)
	inv.prune(ctx, client, rc.DryRun) // prune.go: when the manifest says defaults.prune
}

// stopped reports why the run must not go on reading: the context ended,
// or the safety margin before the deadline is reached.
func (inv *invocation) stopped(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !inv.stopAt.IsZero() && !time.Now().Before(inv.stopAt) {
		return context.DeadlineExceeded
	}
	return nil
}

// folder is a folder's bundle parts, by key, from a listing, and their
// total size.
type folder struct {
	name  string
	infos []store.ObjectInfo
}

// folders lists the bundle parts under prefix, grouped by folder in key
// order. Only the listing is held (at most the store's list cap).
func (inv *invocation) folders(ctx context.Context, st store.Store, prefix string) ([]folder, error) {
	infos, err := st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	at := map[string]int{}
	var out []folder
	for _, in := range infos {
		if !bundle.IsPartName(in.Key) || strings.HasPrefix(in.Key, inv.r.Config.ReportPrefix) {
			continue
		}
		f := folderOf(in.Key)
		i, ok := at[f]
		if !ok {
			i = len(out)
			at[f] = i
			out = append(out, folder{name: f})
		}
		out[i].infos = append(out[i].infos, in)
	}
	return out, nil
}

// candidate is a valid bundle the reconcile may deploy: the files that
// formed it, and its plan.
type candidate struct {
	loc      *located
	plan     *plan.Plan
	warnings []string
}

// readFolder reads one folder's parts and returns its valid bundles that
// cover a manifest target. A folder over the part or size limit is
// reported and not read; an object that cannot be read is reported and
// the folder skipped (what is left of it may be half a bundle, reported
// next time); broken and incomplete bundles are reported as for an upload.
func (inv *invocation) readFolder(ctx context.Context, st store.Store, f folder) []candidate {
	loc, err := readParts(ctx, st, f.name, f.infos)
	if err != nil {
		var se *store.Error
		if errors.As(err, &se) {
			inv.unreadable(f.name, err)
		} else {
			inv.out.Invalid = append(inv.out.Invalid, Skipped{Unit: shortKey(f.name), Reason: "no bundle", Error: noBundle(err)})
		}
		return nil
	}
	fo, ok := inv.split(ctx, loc)
	if !ok {
		return nil
	}
	for _, e := range fo.Rejected {
		inv.refuse(loc.part(e.Source), e, bundle.IsIncomplete(e))
	}
	var out []candidate
	for _, b := range fo.Bundles {
		if c, ok := inv.candidate(loc.of(b), b); ok {
			out = append(out, c)
		}
	}
	return out
}

// reread reads a bundle found by the first pass again, to deploy it: the
// same files, which must still form the same certificate.
func (inv *invocation) reread(ctx context.Context, st store.Store, f found) (candidate, bool) {
	loc := &located{Unit: f.unit}
	for _, k := range f.keys {
		obj, err := st.Get(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since: what is left is judged again
		}
		if err != nil {
			inv.unreadable(k, err)
			return candidate{}, false
		}
		loc.add(obj)
	}
	fo, ok := inv.split(ctx, loc)
	if !ok {
		return candidate{}, false
	}
	for _, b := range fo.Bundles {
		if b.Identity().Fingerprint == f.fingerprint {
			return inv.candidate(loc.of(b), b)
		}
	}
	inv.out.Ignored = append(inv.out.Ignored, Skipped{Unit: shortKey(f.unit), Keys: shortKeys(f.keys),
		Reason: "changed since the bucket was read: the next reconcile or its upload event deploys it"})
	return candidate{}, false
}

// candidate validates and plans a bundle for the reconcile. An expired
// bundle (an old one left in the bucket is normal) and one that covers no
// manifest target are noted as ignored; every other refusal is waiting or
// invalid, as for an upload.
func (inv *invocation) candidate(loc *located, b *bundle.Bundle) (candidate, bool) {
	err := b.Validate(inv.bundleOptions())
	var p *plan.Plan
	if err == nil {
		p, err = plan.Build(b, inv.manifest, b.Sources[0], products())
	}
	switch {
	case errors.Is(err, bundle.ErrExpired):
		inv.out.Ignored = append(inv.out.Ignored, Skipped{Unit: shortKey(loc.Unit), Keys: shortKeys(loc.Keys), Reason: clip("expired: " + err.Error())})
		return candidate{}, false
	case err != nil:
		inv.refuse(loc, err, bundle.IsIncomplete(err))
		return candidate{}, false
	case len(p.Calls) == 0 && len(p.NotCovered) == 0:
		inv.out.Ignored = append(inv.out.Ignored, Skipped{Unit: shortKey(loc.Unit), Keys: shortKeys(loc.Keys), Reason: "covers no manifest target"})
		return candidate{}, false
	}
	return candidate{loc: loc, plan: p, warnings: b.Warnings}, true
}

// identityKey names what a certificate is for: its names as a rollback
// pin names them (pin.Names), so that the reconcile groups bundles as the
// pins govern them.
func identityKey(id bundle.Identity) string {
	return strings.Join(pin.Names(id.SANs, id.CommonName), ",")
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
		if observedNot(t) {
			continue
		}
		c, err := plan.TargetCall(products(), t)
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
	pinOf := map[string]string{} // the certificate rolled back to -> its pin's key
	for _, p := range inv.pinSet(ctx).All() {
		pinOf[p.CertName] = p.Key()
	}
	for _, t := range inv.manifest.Targets {
		if observedNot(t) {
			continue
		}
		c, err := plan.TargetCall(products(), t)
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
			e := Expiring{Product: k.product, Domain: k.domain, State: "expiring",
				CertName: certName[k], NotAfter: na.UTC().Format(time.RFC3339), DaysLeft: days}
			if certName[k] != "" {
				e.Pinned = pinOf[certName[k]]
			}
			inv.out.Expiring = append(inv.out.Expiring, e)
		}
	}
}

// observedNot reports whether a target's certificate cannot be observed:
// a staging target (the manifest resolves staging only for a product
// whose Set API takes Env), since Describe reports what production
// carries. Its expiry is not judged (never production's taken for
// staging's).
func observedNot(t manifest.Target) bool { return t.Staging }
