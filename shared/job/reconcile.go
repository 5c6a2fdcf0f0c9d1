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
	"github.com/certdrop/certdrop/shared/status"
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

// HandleTimer reconciles, after renewing what is due (HandleRenew's
// engine, for every certificate of the manifest): it deploys the newest
// valid bundle of each certificate identity in the bucket wherever a
// target carries an older certificate or none (the fan-out skips the
// rest), then reports targets whose certificate expires within warnDays
// with nothing newer to deploy, and prunes CAS when the manifest says
// defaults.prune. It catches targets added to the manifest later, failed
// runs, and certificates changed by hand in the console. The payload's
// dryRun holds for all of it.
//
// It streams: the first pass reads one folder at a time (at most
// bundle.MaxParts objects of the store's size cap) and keeps of each valid
// bundle only its keys and expiry; the second re-reads the newest bundle of
// each certificate just before deploying it. An object that cannot be read
// or is over the size cap, and a folder with too many parts, are reported
// and skipped; the rest of the reconcile goes on.
func (r *Runner) HandleTimer(ctx context.Context, t *event.TimerEvent) (Result, error) {
	rc := t.Reconcile
	s := r.session(ctx, report.TriggerTimer, rc.DryRun, false)
	bucket, prefix := rc.Bucket, rc.Prefix
	if bucket == "" {
		bucket = r.Config.Bucket
	}
	if prefix == "" {
		prefix = r.Config.TriggerPrefix
	}
	if err := r.Config.trusted(bucket, prefix); err != nil {
		return Result{}, err
	}
	st, err := s.begin(ctx)
	if err != nil {
		return Result{}, err
	}
	// First renew what is due, so that the reconcile deploys it.
	res, failed := s.renewDue(ctx, st)
	folders, err := listFolders(ctx, st, prefix, r.Config.ReportPrefix)
	if err != nil {
		return res, firstErr(failed, failErr("StoreUnavailable", err, ""))
	}
	newest := map[string]found{}
	var order []string
	for _, f := range folders {
		if err := s.stopped(ctx); err != nil {
			failed = firstErr(failed, failErr("Deadline", fmt.Errorf("the reconcile stopped reading the bucket at %s: %w", shortKey(f.name), err),
				"the next reconcile (or FC's retry) reads the rest"))
			break
		}
		cands, read := s.readFolder(ctx, st, f)
		res.add(read)
		for _, c := range cands {
			hold, _, notes := s.pins.held(ctx, c.plan, c.loc.Unit, c.loc.Keys)
			res.add(notes)
			if hold {
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
	client, err := s.apiClient(ctx)
	if err != nil {
		return res, firstErr(failed, err)
	}
	for _, id := range order {
		c, ok, read := s.reread(ctx, st, newest[id])
		res.add(read)
		if !ok {
			continue
		}
		// A bundle issued after a rollback's pin lifts it once deployed.
		v, pn, notes := s.pins.judge(ctx, c.plan)
		res.add(notes)
		rep := Run(ctx, client, c.plan, s.manifest, shortKeys(c.loc.Keys), s.opts)
		rep.Warnings = c.warnings
		res.Reports = append(res.Reports, rep)
		s.log.Info("reconciled", "unit", shortKey(c.loc.Unit), "summary", report.SummaryLine(rep))
		s.probeDeployed(ctx, c.plan, rep)
		if v == pin.Lifts {
			res.add(s.pins.lift(ctx, pn, rep, s.opts.DryRun))
		}
	}
	res.add(s.expiring(ctx, client, res.Reports))
	res.add(s.probeFleet(ctx, res.Reports, s.carried))
	res.Prune = s.prune(ctx, client)
	return res, failed
}

// stopped reports why the run must not go on reading: the context ended,
// or the safety margin before the deadline is reached.
func (s *session) stopped(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.stopAt.IsZero() && !time.Now().Before(s.stopAt) {
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

// listFolders lists the bundle parts under prefix (reports excepted), grouped
// by folder in key order. Only the listing is held (at most the store's
// list cap).
func listFolders(ctx context.Context, st store.Store, prefix, reportPrefix string) ([]folder, error) {
	infos, err := st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	at := map[string]int{}
	var out []folder
	for _, in := range infos {
		if !bundle.IsPartName(in.Key) || strings.HasPrefix(in.Key, reportPrefix) {
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
// cover a manifest target, and what it refused. A folder over the part or
// size limit is refused and not read; an object that cannot be read is
// reported and the folder skipped (what is left of it may be half a
// bundle, reported next time); broken and incomplete bundles are refused
// as for an upload.
func (s *session) readFolder(ctx context.Context, st store.Store, f folder) ([]candidate, Result) {
	loc, err := readParts(ctx, st, f.name, f.infos)
	if err != nil {
		var se *store.Error
		if errors.As(err, &se) {
			return nil, Result{Invalid: []Skipped{unreadable(s.log, f.name, err)}}
		}
		return nil, Result{Invalid: []Skipped{{Unit: shortKey(f.name), Reason: "no bundle", Error: noBundle(err)}}}
	}
	fo, res := s.split(ctx, loc)
	if fo == nil {
		return nil, res
	}
	for _, e := range fo.Rejected {
		res.add(s.refuse(loc.part(e.Source), e, bundle.IsIncomplete(e)))
	}
	var out []candidate
	for _, b := range fo.Bundles {
		c, ok, r := s.candidate(loc.of(b), b)
		res.add(r)
		if ok {
			out = append(out, c)
		}
	}
	return out, res
}

// reread reads a bundle found by the first pass again, to deploy it: the
// same files, which must still form the same certificate.
func (s *session) reread(ctx context.Context, st store.Store, f found) (candidate, bool, Result) {
	loc := &located{Unit: f.unit}
	for _, k := range f.keys {
		obj, err := st.Get(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since: what is left is judged again
		}
		if err != nil {
			return candidate{}, false, Result{Invalid: []Skipped{unreadable(s.log, k, err)}}
		}
		loc.add(obj)
	}
	fo, res := s.split(ctx, loc)
	if fo == nil {
		return candidate{}, false, res
	}
	for _, b := range fo.Bundles {
		if b.Identity().Fingerprint == f.fingerprint {
			return s.candidate(loc.of(b), b)
		}
	}
	res.Ignored = append(res.Ignored, Skipped{Unit: shortKey(f.unit), Keys: shortKeys(f.keys),
		Reason: "changed since the bucket was read: the next reconcile or its upload event deploys it"})
	return candidate{}, false, res
}

// candidate validates and plans a bundle for the reconcile. An expired
// bundle (an old one left in the bucket is normal) and one that covers no
// manifest target are ignored; every other refusal is waiting or
// invalid, as for an upload.
func (s *session) candidate(loc *located, b *bundle.Bundle) (candidate, bool, Result) {
	err := b.Validate(s.bundleOptions())
	var p *plan.Plan
	if err == nil {
		p, err = plan.Build(b, s.manifest, b.Sources[0], products())
	}
	switch {
	case errors.Is(err, bundle.ErrExpired):
		return candidate{}, false, Result{Ignored: []Skipped{{Unit: shortKey(loc.Unit), Keys: shortKeys(loc.Keys), Reason: clip("expired: " + err.Error())}}}
	case err != nil:
		return candidate{}, false, s.refuse(loc, err, bundle.IsIncomplete(err))
	case len(p.Calls) == 0 && len(p.NotCovered) == 0:
		return candidate{}, false, Result{Ignored: []Skipped{{Unit: shortKey(loc.Unit), Keys: shortKeys(loc.Keys), Reason: "covers no manifest target"}}}
	}
	return candidate{loc: loc, plan: p, warnings: b.Warnings}, true, Result{}
}

// identityKey names what a certificate is for: its names as a rollback
// pin names them (pin.Names), so that the reconcile groups bundles as the
// pins govern them.
func identityKey(id bundle.Identity) string {
	return strings.Join(pin.Names(id.SANs, id.CommonName), ",")
}

// expiring returns every manifest target whose certificate, after the
// reconcile's reports, expires within warnDays. Targets no report names
// are described.
func (s *session) expiring(ctx context.Context, client fanout.Client, reports []*report.Report) Result {
	now := s.r.now()
	type key struct{ product, domain string }
	notAfter := map[key]time.Time{}
	certName := map[key]string{}
	fingerprint := map[key]string{}
	for _, rep := range reports {
		for _, t := range rep.Targets {
			k := key{string(t.Product), t.Domain}
			switch {
			case t.State == fanout.Deployed || t.State == fanout.Unchanged:
				notAfter[k], certName[k], fingerprint[k] = rep.Bundle.NotAfter, rep.Bundle.CertName, rep.Bundle.Fingerprint
			case t.Previous != nil && t.Previous.NotAfter != nil:
				notAfter[k], certName[k], fingerprint[k] = *t.Previous.NotAfter, t.Previous.CertName, t.Previous.Fingerprint
			}
		}
	}
	var unknown []plan.Call
	for _, t := range s.manifest.Targets {
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
	opts := fanout.Options{StopAt: s.stopAt, Quotas: s.r.Config.Quotas, Logger: s.log}
	for _, in := range fanout.Inspect(ctx, client, unknown, opts) {
		if in.Installed != nil && !in.Installed.NotAfter.IsZero() {
			k := key{string(in.Call.Target.Product), in.Call.DomainName}
			notAfter[k], certName[k], fingerprint[k] = in.Installed.NotAfter, in.Installed.CertName, in.Installed.Fingerprint
			s.run.observe(status.Observation{Product: k.product, Address: k.domain, Bucket: in.Call.Target.Field("bucket"), Outcome: "checked",
				Cert: &status.Cert{Name: in.Installed.CertName, NotAfter: in.Installed.NotAfter, Fingerprint: in.Installed.Fingerprint}})
		}
	}
	warn := s.manifest.Defaults.WarnDays
	pinOf := map[string]string{} // the certificate rolled back to -> its pin's key
	set, res := s.pins.load(ctx)
	for _, p := range set.All() {
		pinOf[p.CertName] = p.Key()
	}
	for _, t := range s.manifest.Targets {
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
		if s.carried == nil {
			s.carried = map[targetKey]carried{}
		}
		s.carried[keyOfTarget(t, c.DomainName)] = carried{certName: certName[k], fingerprint: fingerprint[k], notAfter: na}
		days := int(na.Sub(now).Hours() / 24)
		if days < warn {
			e := Expiring{Product: k.product, Domain: k.domain, State: "expiring",
				CertName: certName[k], NotAfter: na.UTC().Format(time.RFC3339), DaysLeft: days}
			if certName[k] != "" {
				e.Pinned = pinOf[certName[k]]
			}
			res.Expiring = append(res.Expiring, e)
		}
	}
	return res
}

// observedNot reports whether a target's certificate cannot be observed:
// a staging target (the manifest resolves staging only for a product
// whose Set API takes Env), since Describe reports what production
// carries. Its expiry is not judged (never production's taken for
// staging's).
func observedNot(t manifest.Target) bool { return t.Staging }
