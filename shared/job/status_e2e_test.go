package job_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/job"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/status"
)

// readStatus reads status.json and the page from the bucket.
func (h *harness) readStatus() (*status.Status, string) {
	h.t.Helper()
	obj, err := h.st.Get(h.ctx, "certdrop/status/status.json")
	if err != nil {
		h.t.Fatalf("status.json: %v", err)
	}
	st, err := status.Decode(obj.Data)
	if err != nil {
		h.t.Fatal(err)
	}
	page, err := h.st.Get(h.ctx, "certdrop/status/index.html")
	if err != nil {
		h.t.Fatalf("index.html: %v", err)
	}
	if !strings.HasPrefix(page.ContentType, "text/html") {
		h.t.Errorf("the page's Content-Type is %q", page.ContentType)
	}
	return st, string(page.Data)
}

func statusTarget(st *status.Status, product, address string) *status.Target {
	for i, t := range st.Targets {
		if t.Product == product && t.Address == address {
			return &st.Targets[i]
		}
	}
	return nil
}

func reportTarget(o job.Outcome, product, domain string) *report.Target {
	for _, r := range o.Reports {
		for i, t := range r.Targets {
			if string(t.Product) == product && t.Domain == domain {
				return &r.Targets[i]
			}
		}
	}
	return nil
}

// TestE2EProbeAfterDeploy: after a deployment the function probes each
// deployed domain through the emulator's edge (CERTDROP_PROBE_DIAL), whose
// new certificate is served a second after the Set: a domain that carried
// another certificate is stale at first, one that had HTTPS off
// unreachable, and both turn serving within CERTDROP_PROBE_WAIT; a
// wildcard without probeName is not probed. The verdicts are in the
// report's targets and in status.json, with the run and its report, and
// the page is written beside it.
func TestE2EProbeAfterDeploy(t *testing.T) {
	h := newHarnessEnv(t, func(c *cloudsim.Config) { c.Edge.Delay = time.Second }, map[string]string{"CERTDROP_PROBE_WAIT": "30"})
	old := h.leaf(time.Now().AddDate(0, 1, 0), "www.example.com")
	h.setByHand("www.example.com", old)
	time.Sleep(1100 * time.Millisecond) // the edge serves the old certificate
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.put("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
	outs := h.recorded()
	if len(outs) != 1 {
		t.Fatalf("%d invocations", len(outs))
	}
	o := outs[0]
	sameStates(t, "deploy", states(o), allDeployed)
	www := reportTarget(o, "cdn", "www.example.com")
	if www.Probe == nil || www.Probe.Verdict != "serving" || www.Probe.Probes < 2 || www.Probe.Served == nil ||
		www.Probe.Served.Fingerprint != o.Reports[0].Bundle.Fingerprint || www.Previous == nil || www.Previous.Fingerprint == "" {
		t.Errorf("www: probe %+v previous %+v; want stale turned serving after more than one probe", www.Probe, www.Previous)
	}
	if vod := reportTarget(o, "vod", "vod.example.com"); vod.Probe == nil || vod.Probe.Verdict != "serving" || vod.Probe.Probes < 2 {
		t.Errorf("vod (HTTPS was off): probe %+v; want unreachable turned serving", vod.Probe)
	}
	if wild := reportTarget(o, "cdn", ".example.com"); wild.Probe != nil {
		t.Errorf("a wildcard without probeName was probed: %+v", wild.Probe)
	}
	if len(o.Edges) != 0 || o.StatusError != nil || o.Status != "ok" {
		t.Errorf("edges %+v, status error %+v, status %q", o.Edges, o.StatusError, o.Status)
	}

	st, page := h.readStatus()
	if len(st.Runs) != 1 || st.Runs[0].ID != o.RequestID || !strings.HasSuffix(o.ReportKey, st.Runs[0].ReportKey) ||
		!strings.HasPrefix(st.Runs[0].ReportKey, "certdrop/reports/") || st.Runs[0].Outcome != "ok" {
		t.Errorf("runs %+v; want this run with its report %s", st.Runs, o.ReportKey)
	}
	sw := statusTarget(st, "cdn", "www.example.com")
	if sw == nil || sw.State != status.StateOK || sw.Outcome != "deployed" || sw.Probe == nil || sw.Probe.Verdict != "serving" ||
		sw.Cert == nil || sw.Cert.Fingerprint != o.Reports[0].Bundle.Fingerprint || sw.Cert.DaysLeft < 80 {
		t.Errorf("status of www: %+v", sw)
	}
	if sv := statusTarget(st, "vod", "vod.example.com"); sv == nil || sv.State != status.StateOK {
		t.Errorf("status of vod: %+v", sv)
	}
	if len(st.Targets) != 5 {
		t.Errorf("%d targets in the status, want the manifest's 5", len(st.Targets))
	}
	for _, want := range []string{"www.example.com", "vod.example.com", "serving", st.Runs[0].ID} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
}

// TestE2ETimerProbesDrift: the daily timer probes every target: an edge
// that serves a certificate certdrop did not set there (someone replaced
// it outside certdrop) is other, a problem the webhook is told of, and so
// is a served certificate expiring that is not the one the API reports;
// the status says other.
func TestE2ETimerProbesDrift(t *testing.T) {
	h := newHarness(t, nil)
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.put("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
	sameStates(t, "deploy", states(h.recorded()[0]), allDeployed)

	// img's edge serves a certificate expiring in 5 days that certdrop
	// never set; the API still reports certdrop's.
	foreign := h.leaf(time.Now().Add(5*24*time.Hour+time.Hour), "img.example.com")
	pair, err := tls.X509KeyPair(h.fullchain(foreign), foreign.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.sim.Edge().Set("img.example.com", pair, time.Now()); err != nil {
		t.Fatal(err)
	}
	hooksBefore := len(h.webhooks())
	code, o := h.invoke(reconcileTimer)
	if code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	var drift, expiring int
	for _, e := range o.Edges {
		if e.Domain != "img.example.com" || e.Served == nil || e.Expected != o.Reports[0].Bundle.Fingerprint {
			t.Errorf("edge problem %+v", e)
		}
		switch e.Problem {
		case job.EdgeDrift:
			drift++
		case job.EdgeExpiring:
			expiring++
		}
	}
	if drift != 1 || expiring != 1 || o.Status != "expiring" {
		t.Errorf("edges %+v, status %q; want img's drift and its served expiry", o.Edges, o.Status)
	}
	if img := reportTarget(o, "cdn", "img.example.com"); img == nil || img.State != "unchanged" || img.Probe == nil || img.Probe.Verdict != "other" {
		t.Errorf("img in the report: %+v", img)
	}
	if www := reportTarget(o, "cdn", "www.example.com"); www == nil || www.Probe == nil || www.Probe.Verdict != "serving" {
		t.Errorf("www in the report: %+v", www)
	}
	hooks := strings.Join(h.webhooks()[hooksBefore:], "\n")
	if !strings.Contains(hooks, "Drift: ") || !strings.Contains(hooks, "ServedExpiring: ") ||
		!strings.Contains(hooks, "cdn img.example.com: the edge serves CN=img.example.com") {
		t.Errorf("webhook posts %q; want the drift and the served expiry", hooks)
	}
	// The same drift the next run is not told again the same day.
	hooksBefore = len(h.webhooks())
	if _, o := h.invoke(reconcileTimer); len(o.Edges) != 2 {
		t.Errorf("second timer: edges %+v", o.Edges)
	}
	if again := strings.Join(h.webhooks()[hooksBefore:], "\n"); strings.Contains(again, "Drift") {
		t.Errorf("the drift is told again within the day: %q", again)
	}
	st, _ := h.readStatus()
	if img := statusTarget(st, "cdn", "img.example.com"); img == nil || (img.State != status.StateOther && img.State != status.StateExpiring) ||
		img.Probe == nil || img.Probe.Verdict != "other" {
		t.Errorf("status of img: %+v", img)
	}
	if len(st.Runs) != 3 || st.Runs[0].Trigger != "timer" {
		t.Errorf("runs %+v", st.Runs)
	}
}
