package job

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/alert"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/probe"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/status"
)

// Edge problems: what a probe found that people must hear of.
const (
	// EdgeDrift: the edge serves a certificate certdrop did not set
	// there (probe verdict other): someone replaced it outside certdrop,
	// or the edge answers the name with a default certificate.
	EdgeDrift = "drift"
	// EdgeExpiring: the certificate the edge serves, which is what users
	// see, expires within the manifest's warnDays.
	EdgeExpiring = "served_expiring"
)

// EdgeProblem is a problem a TLS probe found on a target's edge.
type EdgeProblem struct {
	// Problem is EdgeDrift or EdgeExpiring.
	Problem string `json:"problem"`
	Product string `json:"product"`
	Domain  string `json:"domain"`
	Bucket  string `json:"bucket,omitempty"`
	// Name is the name probed (the domain, or a wildcard's probeName).
	Name string `json:"name"`
	// Expected is the fingerprint of the certificate the target carries
	// as its API reports it (empty when it does not say).
	Expected string         `json:"expected,omitempty"`
	Served   *report.Served `json:"served,omitempty"`
}

// runState is what a run learns beside its handler's Result, for the
// status page and the probes: the manifest it read, what the timer
// inspected and probed, and the probes of deployed domains, which run
// while the run goes on and are joined by Run before the outcome is
// written. Run makes one per invocation; it is safe for concurrent use.
type runState struct {
	mu       sync.Mutex
	manifest *manifest.Manifest
	// seen are the targets the run inspected or probed outside its
	// reports (the timer's whole fleet).
	seen []status.Observation

	proberOnce sync.Once
	prober     *probe.Prober
	proberErr  error
	wg         sync.WaitGroup
	// done are the probes finished: each puts its results in its report
	// when Run joins them (join), so that no report is written to while
	// a handler may read it.
	done []func()
}

// noteManifest records the manifest the run read.
func (rs *runState) noteManifest(m *manifest.Manifest) {
	if rs == nil {
		return
	}
	rs.mu.Lock()
	rs.manifest = m
	rs.mu.Unlock()
}

// observe records targets the run inspected or probed outside its reports.
func (rs *runState) observe(obs ...status.Observation) {
	if rs == nil {
		return
	}
	rs.mu.Lock()
	rs.seen = append(rs.seen, obs...)
	rs.mu.Unlock()
}

// join waits for the probes of deployed domains and puts their results in
// their reports.
func (rs *runState) join() {
	if rs == nil {
		return
	}
	rs.wg.Wait()
	rs.mu.Lock()
	done := rs.done
	rs.done = nil
	rs.mu.Unlock()
	for _, f := range done {
		f()
	}
}

// proberFor builds the run's prober once: its pacing is shared by every
// probe of the run.
func (rs *runState) proberFor(c *Config, now func() time.Time, s *session) (*probe.Prober, error) {
	rs.proberOnce.Do(func() {
		rs.prober, rs.proberErr = probe.New(probe.Options{Dial: c.ProbeDial, Wait: c.ProbeWait, Now: now, Logger: s.log})
	})
	return rs.prober, rs.proberErr
}

// probeTarget is one target a probe asks about.
type probeTarget struct {
	at  int // index in the report's targets, or -1
	t   manifest.Target
	api string // the domain as its API names it
	req probe.Request
}

// probeDeployed probes, in the background, the domains of rep that this
// deployment set (deployed, production only), each at the name the
// manifest says (manifest.Target.ProbeAt), expecting the bundle's
// certificate, the one Describe reported before the Set being the stale
// one. It waits up to CERTDROP_PROBE_WAIT for stale edges to turn (and
// for the edges of domains whose HTTPS was off, unreachable until they
// serve), never past the stop point. The fan-out is over when it is called: the next
// bundle's deployment does not wait for it. Run joins it; the verdicts go
// in rep's targets, and an edge serving a certificate certdrop did not set
// is an EdgeDrift problem of the result Run returns.
func (s *session) probeDeployed(ctx context.Context, p *plan.Plan, rep *report.Report) {
	if s.run == nil || rep.DryRun {
		return
	}
	var pts []probeTarget
	for i, c := range p.Calls {
		if i >= len(rep.Targets) || rep.Targets[i].State != fanout.Deployed || observedNot(c.Target) {
			continue
		}
		name, ok := c.Target.ProbeAt()
		if !ok {
			continue
		}
		req := probe.Request{Name: name, Expected: rep.Bundle.Fingerprint}
		if prev := rep.Targets[i].Previous; prev != nil {
			if prev.Fingerprint != "" {
				req.Previous = []string{prev.Fingerprint}
			}
			// HTTPS was off: its edge served nothing, and is waited for
			// until it serves.
			req.Fresh = !prev.HTTPS
		}
		pts = append(pts, probeTarget{at: i, t: c.Target, api: c.DomainName, req: req})
	}
	if len(pts) == 0 {
		return
	}
	pr, err := s.run.proberFor(s.r.Config, s.r.now, s)
	if err != nil {
		s.log.Error("cannot probe", "error", err.Error())
		return
	}
	reqs := make([]probe.Request, len(pts))
	for i, pt := range pts {
		reqs[i] = pt.req
	}
	stop := s.stopAt
	s.run.wg.Go(func() {
		res, err := pr.Probe(ctx, reqs)
		if err != nil && !errors.Is(err, probe.ErrNotProbed) {
			s.log.Error("probe refused", "error", err.Error())
			return
		}
		if s.r.Config.ProbeWait > 0 {
			wctx, cancel := until(ctx, stop)
			res, _ = pr.WaitStale(wctx, reqs, res)
			cancel()
		}
		s.log.Info("probed the deployed domains", "certName", rep.Bundle.CertName, "verdicts", verdictCounts(res))
		s.run.mu.Lock()
		s.run.done = append(s.run.done, func() {
			for i, r := range res {
				rep.Targets[pts[i].at].Probe = reportProbe(r)
			}
		})
		s.run.mu.Unlock()
	})
}

// verdictCounts sums results up for a log line: "serving=3 stale=1".
func verdictCounts(res []probe.Result) string {
	n := map[probe.Verdict]int{}
	for _, r := range res {
		n[r.Verdict]++
	}
	var parts []string
	for _, v := range []probe.Verdict{probe.Serving, probe.Stale, probe.Other, probe.Unreachable, probe.Unprobed} {
		if n[v] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", v, n[v]))
		}
	}
	return strings.Join(parts, " ")
}

// reportProbe is a probe result as reports carry it.
func reportProbe(r probe.Result) *report.Probe {
	p := &report.Probe{Name: r.Name, Verdict: string(r.Verdict), Reason: r.Reason, At: r.At.UTC(), Probes: r.Probes}
	if sv := r.Served; sv != nil {
		p.Served = &report.Served{Fingerprint: sv.Fingerprint, Subject: sv.Subject, Issuer: sv.Issuer,
			NotAfter: sv.NotAfter.UTC(), DaysLeft: sv.DaysLeft, Covers: sv.Covers}
	}
	return p
}

// carried is what a target carries as its API reports it.
type carried struct {
	certName, fingerprint string
	notAfter              time.Time
}

// targetKey names a target across reports, inspections and the manifest:
// its product, bucket and API domain.
type targetKey struct{ product, bucket, domain string }

func keyOfTarget(t manifest.Target, apiDomain string) targetKey {
	return targetKey{string(t.Product), t.Field("bucket"), strings.ToLower(apiDomain)}
}

// probeFleet is the daily probe: every manifest target not probed after a
// deployment in this run, at the name the manifest says, expecting what
// its API reports it carries (carried: from the run's reports and
// inspections). It runs after the reconcile, paced, within the run's
// calls. Its verdicts go in the reports' unchanged targets and the status;
// an edge serving a certificate certdrop did not set (drift) and a served
// certificate expiring within warnDays are problems of the result, which
// the alerts report.
func (s *session) probeFleet(ctx context.Context, reports []*report.Report, known map[targetKey]carried) Result {
	if s.run == nil || s.opts.DryRun || s.manifest == nil {
		return Result{}
	}
	type inReport struct {
		rep *report.Report
		at  int
	}
	reported := map[targetKey]inReport{}
	for _, rep := range reports {
		for i, t := range rep.Targets {
			k := targetKey{string(t.Product), t.Bucket, strings.ToLower(t.Domain)}
			if t.State == fanout.Deployed && !rep.DryRun {
				reported[k] = inReport{} // probed after its deployment
				continue
			}
			if _, ok := reported[k]; !ok {
				reported[k] = inReport{rep: rep, at: i}
			}
		}
	}
	var pts []probeTarget
	var keys []targetKey
	for _, t := range s.manifest.Targets {
		if observedNot(t) {
			continue
		}
		name, ok := t.ProbeAt()
		if !ok {
			continue
		}
		c, err := plan.TargetCall(products(), t)
		if err != nil {
			continue
		}
		k := keyOfTarget(t, c.DomainName)
		if ir, ok := reported[k]; ok && ir.rep == nil {
			continue
		}
		pts = append(pts, probeTarget{at: -1, t: t, api: c.DomainName, req: probe.Request{Name: name, Expected: known[k].fingerprint}})
		keys = append(keys, k)
	}
	if len(pts) == 0 {
		return Result{}
	}
	pr, err := s.run.proberFor(s.r.Config, s.r.now, s)
	if err != nil {
		s.log.Error("cannot probe", "error", err.Error())
		return Result{}
	}
	reqs := make([]probe.Request, len(pts))
	for i, pt := range pts {
		reqs[i] = pt.req
	}
	res, err := pr.Probe(ctx, reqs)
	if err != nil && !errors.Is(err, probe.ErrNotProbed) {
		s.log.Error("probe refused", "error", err.Error())
		return Result{}
	}
	s.log.Info("probed every target", "targets", len(res), "verdicts", verdictCounts(res))
	var out Result
	warn := s.manifest.Defaults.WarnDays
	var obs []status.Observation
	for i, r := range res {
		pt, k := pts[i], keys[i]
		r = judgeByExpiry(r, known[k])
		rp := reportProbe(r)
		if ir := reported[k]; ir.rep != nil {
			ir.rep.Targets[ir.at].Probe = rp
		}
		obs = append(obs, status.Observation{Product: k.product, Address: pt.api, Bucket: pt.t.Field("bucket"), Probe: statusProbe(rp)})
		ep := EdgeProblem{Product: k.product, Domain: pt.api, Bucket: pt.t.Field("bucket"), Name: r.Name, Expected: pt.req.Expected, Served: rp.Served}
		c := known[k]
		if r.Verdict == probe.Other && (c.fingerprint != "" || !c.notAfter.IsZero()) {
			ep.Problem = EdgeDrift
			out.Edges = append(out.Edges, ep)
		}
		// What the API carries expiring is the reconcile's Expiring; a
		// served certificate is a problem of its own when it is another.
		if sv := r.Served; sv != nil && warn > 0 && sv.DaysLeft < warn && r.Verdict != probe.Serving {
			ep.Problem = EdgeExpiring
			out.Edges = append(out.Edges, ep)
		}
	}
	s.run.observe(obs...)
	return out
}

// judgeByExpiry turns an other verdict into serving when the target's API
// does not return the certificate it carries (no fingerprint to expect)
// but the served certificate expires at the very second the API says the
// carried one does: the same certificate, as far as can be told.
func judgeByExpiry(r probe.Result, c carried) probe.Result {
	if r.Verdict != probe.Other || c.fingerprint != "" || r.Served == nil {
		return r
	}
	if c.notAfter.IsZero() {
		r.Reason = "what the target carries is unknown (its API did not say): the served certificate cannot be judged"
		return r
	}
	if r.Served.NotAfter.Equal(c.notAfter) {
		r.Verdict = probe.Serving
		r.Reason = "the API does not return the certificate it carries: judged by its expiry"
	}
	return r
}

// statusProbe is a report's probe as the status keeps it.
func statusProbe(p *report.Probe) *status.Probe {
	if p == nil {
		return nil
	}
	sp := &status.Probe{Name: p.Name, Verdict: p.Verdict, At: p.At, Reason: p.Reason}
	if sv := p.Served; sv != nil {
		sp.Served = &status.Cert{Name: sv.Subject, Issuer: sv.Issuer, NotAfter: sv.NotAfter, Fingerprint: sv.Fingerprint}
	}
	return sp
}

// deployDrift is the drift the probes after deployments found: an edge
// serving neither the new certificate nor the one it carried before.
func deployDrift(reports []*report.Report) []EdgeProblem {
	var out []EdgeProblem
	for _, rep := range reports {
		for _, t := range rep.Targets {
			if t.Probe == nil || t.State != fanout.Deployed || t.Probe.Verdict != string(probe.Other) {
				continue
			}
			out = append(out, EdgeProblem{Problem: EdgeDrift, Product: string(t.Product), Domain: t.Domain, Bucket: t.Bucket,
				Name: t.Probe.Name, Expected: rep.Bundle.Fingerprint, Served: t.Probe.Served})
		}
	}
	return out
}

// edgeNotice adds an outcome's edge problems and an unwritten status page
// to a webhook notice.
func edgeNotice(out *Outcome, n *report.Notice) (what []string) {
	drift, expiring := 0, 0
	for _, e := range out.Edges {
		where := e.Product + " " + e.Domain
		if e.Name != e.Domain {
			where += " (probed at " + e.Name + ")"
		}
		served := "a certificate"
		if sv := e.Served; sv != nil {
			served = fmt.Sprintf("%s by %s, expiring %s (%d day(s) left)", sv.Subject, sv.Issuer, sv.NotAfter.Format(time.DateOnly), sv.DaysLeft)
		}
		switch e.Problem {
		case EdgeDrift:
			drift++
			n.Lines = append(n.Lines, fmt.Sprintf("%s: the edge serves %s that certdrop did not set there: "+
				"someone replaced it outside certdrop, or the domain is not served by this product; deploy again (certdrop deploy --force) or find who changed it", where, served))
		case EdgeExpiring:
			expiring++
			n.Lines = append(n.Lines, fmt.Sprintf("%s: the edge serves %s: users see it expire; upload a newer certificate", where, served))
		}
	}
	if drift > 0 {
		what = append(what, fmt.Sprintf("%d edge(s) serve a certificate certdrop did not set", drift))
	}
	if expiring > 0 {
		what = append(what, fmt.Sprintf("%d served certificate(s) expiring", expiring))
	}
	if e := out.StatusError; e != nil {
		what = append(what, "status page not written")
		n.Lines = append(n.Lines, fmt.Sprintf("%s: %s%s", e.Code, e.Message, hintOf(e)))
	}
	return what
}

// edgeSubject names a target in alerts as observe does: "cdn
// www.example.com", with an oss target's bucket.
func edgeSubject(product, domain, bucket string) string {
	s := product + " " + domain
	if bucket != "" {
		s += " (" + bucket + ")"
	}
	return s
}

// observeEdges adds what the probes found to the alerts' observation: each
// edge problem, each edge found serving what certdrop set, and the status
// page not written (or written).
func observeEdges(out *Outcome, add func(kind, subject, code, detail, hint string), well func(kind, subject string)) {
	for _, e := range out.Edges {
		where := ""
		if e.Name != e.Domain {
			where = " (probed at " + e.Name + ")"
		}
		served := "a certificate"
		if sv := e.Served; sv != nil {
			served = fmt.Sprintf("%s by %s, expiring %s (%d day(s) left)", sv.Subject, sv.Issuer, sv.NotAfter.Format(time.DateOnly), sv.DaysLeft)
		}
		switch e.Problem {
		case EdgeDrift:
			add(alert.KindEdge, edgeSubject(e.Product, e.Domain, e.Bucket), "Drift", "the edge serves "+served+where+", not the certificate certdrop set there",
				"someone replaced it outside certdrop, or the domain is not served by this product: find who changed it, or deploy again (certdrop deploy --force)")
		case EdgeExpiring:
			add(alert.KindEdge, edgeSubject(e.Product, e.Domain, e.Bucket), "ServedExpiring", "the edge serves "+served+where+": users see it expire",
				"the target's API reports another certificate: find why the edge does not serve it, or upload a newer certificate")
		}
	}
	for _, rep := range out.Reports {
		for _, t := range rep.Targets {
			if t.Probe != nil && t.Probe.Verdict == string(probe.Serving) {
				well(alert.KindEdge, edgeSubject(string(t.Product), t.Domain, t.Bucket))
			}
		}
	}
	if rs := out.run; rs != nil {
		rs.mu.Lock()
		for _, ob := range rs.seen {
			if ob.Probe != nil && ob.Probe.Verdict == string(probe.Serving) {
				well(alert.KindEdge, edgeSubject(ob.Product, ob.Address, ob.Bucket))
			}
		}
		rs.mu.Unlock()
	}
	if e := out.StatusError; e != nil {
		add(alert.KindStatus, "", e.Code, e.Message, e.Hint)
	} else if out.ReportKey != "" {
		well(alert.KindStatus, "")
	}
}
