package job_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/internal/testutil"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/job"
)

// The renewal through the function, end to end on loopback: the emulator's
// OSS (whose trigger invokes the function), CDN/VOD/Live and Alibaba Cloud
// DNS APIs, its authoritative DNS server and pebble, the ACME CA in
// process, validating DNS-01 through that server.

const timerEvent = `{"triggerTime":"2026-11-23T03:00:00Z","triggerName":"daily","payload":"{\"mode\":\"reconcile\"}"}`

// newRenewHarness is the e2e harness with the zone example.com in the
// emulator's DNS, the ACME CA, and a manifest whose certificates section
// orders example.com and *.example.com (covering every target).
func newRenewHarness(t *testing.T, mutate func(*cloudsim.Config)) *harness {
	t.Helper()
	return newRenewHarnessEnv(t, mutate, nil)
}

// newRenewHarnessEnv is newRenewHarness with environment variables set
// or, when empty, unset.
func newRenewHarnessEnv(t *testing.T, mutate func(*cloudsim.Config), extra map[string]string) *harness {
	t.Helper()
	h := newHarnessEnv(t, func(c *cloudsim.Config) {
		c.DNS.Zones = []cloudsim.ZoneSettings{{Name: "example.com"}}
		c.ACME.Enabled = true
		if mutate != nil {
			mutate(c)
		}
	}, extra)
	h.putQuiet("certdrop/manifest.yaml", []byte(h.renewManifest("example.com")))
	t.Cleanup(h.assertNoKeyMaterial)
	return h
}

// renewManifest is the test manifest with a certificates section for
// example.com and its wildcard, DNS-01 in zone.
func (h *harness) renewManifest(zone string) string {
	return testManifest + fmt.Sprintf(`certificates:
  - name: example.com
    domains: [example.com, "*.example.com"]
    issuer: %s
    email: ops@example.com
    dns: alidns
`, h.sim.ACMEDirectory())
}

// acmeOrders counts the CA's new orders from the emulator's journal.
func (h *harness) acmeOrders() int {
	n := 0
	for _, e := range h.sim.Journal().Entries() {
		if e.Service == "acme" && e.API == "newOrder" && e.Outcome == "ok" {
			n++
		}
	}
	return n
}

// assertNoKeyMaterial checks that no outcome, log line or webhook post
// holds a private key: neither the PEM header nor any base64 line of a key
// in the bucket (the certificate keys, the ACME account key), and that no
// TXT record is left in the emulator's zones.
func (h *harness) assertNoKeyMaterial() {
	t := h.t
	var text strings.Builder
	text.WriteString(h.logs.String())
	for _, o := range h.recorded() {
		js, _ := json.Marshal(o)
		text.Write(js)
	}
	for _, w := range h.webhooks() {
		text.WriteString(w)
	}
	for _, r := range h.reportObjects() {
		if o, err := h.st.Get(context.Background(), r.Key); err == nil {
			text.Write(o.Data)
		}
	}
	secrets := []string{"PRIVATE KEY", simSecret}
	objs, _ := h.st.List(context.Background(), "")
	for _, o := range objs {
		if got, err := h.st.Get(context.Background(), o.Key); err == nil {
			secrets = append(secrets, testutil.KeyLines(got.Data)...)
		}
	}
	all := text.String()
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("an outcome, log or webhook holds key material %.12q…", s)
		}
	}
	for _, r := range h.sim.DNSRecords("example.com") {
		if r.Type == "TXT" && !h.leftoversExpected {
			t.Errorf("TXT record %s left behind", r.Name())
		}
	}
}

func dump(o job.Outcome) string {
	js, _ := json.MarshalIndent(o, "", " ")
	return string(js)
}

// TestE2ERenewTimer: the timer renews the due certificate through ACME
// DNS-01, writes certs/example.com/bundle.pem, and its reconcile deploys
// it to every target; the OSS trigger's invocation for the new object
// then finds every target unchanged; a second timer run orders nothing.
func TestE2ERenewTimer(t *testing.T) {
	h := newRenewHarness(t, nil)
	code, o := h.invoke(timerEvent)
	if code != http.StatusOK || o.Status != "ok" || len(o.Renewals) != 1 {
		t.Fatalf("HTTP %d %s", code, dump(o))
	}
	r := o.Renewals[0]
	if !r.Renewed || !r.Due || r.Reason != "no_bundle" || r.Key != "certs/example.com/bundle.pem" || r.Error != nil ||
		r.NotAfter.Before(time.Now().AddDate(0, 0, 80)) || r.Serial == "" {
		t.Fatalf("renewal = %+v", r)
	}
	obj, err := h.st.Get(h.ctx, "certs/example.com/bundle.pem")
	if err != nil || !strings.Contains(string(obj.Data), "PRIVATE KEY") {
		t.Fatalf("the bundle in the bucket: %v", err)
	}
	// The reconcile in the same invocation deployed the new certificate.
	if len(o.Reports) != 1 || o.Reports[0].Bundle.NotAfter.Unix() != r.NotAfter.Unix() {
		t.Fatalf("reports: %s", dump(o))
	}
	sameStates(t, "timer", states(o), allDeployed)
	// The trigger's invocation for the new object: nothing left to do.
	h.settle()
	var trig *job.Outcome
	for _, x := range h.recorded() {
		if x.Trigger == "oss" {
			trig = &x
		}
	}
	if trig == nil || len(trig.Reports) != 1 || len(trig.Reports[0].Bundle.Keys) != 1 || trig.Reports[0].Bundle.Keys[0] != "certs/example.com/bundle.pem" {
		t.Fatalf("the OSS trigger's invocation: %+v", trig)
	}
	for k, s := range states(*trig) {
		if s != "unchanged" {
			t.Errorf("trigger: %s is %s, want unchanged", k, s)
		}
	}
	assertSetOnce(t, h)
	if n := h.acmeOrders(); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
	// The renewal is in the report written to the bucket too.
	if js := reportText(t, h, o.ReportKey); !strings.Contains(js, `"renewals"`) || !strings.Contains(js, `"no_bundle"`) {
		t.Errorf("the written report holds no renewal: %.300s", js)
	}

	// The next day's timer: nothing is due, nothing is ordered or set.
	code, o = h.invoke(timerEvent)
	if code != http.StatusOK || o.Status != "ok" || len(o.Renewals) != 1 {
		t.Fatalf("second timer: HTTP %d %s", code, dump(o))
	}
	if r := o.Renewals[0]; r.Renewed || r.Due || r.Reason != "not_due" || r.NotAfter.IsZero() || !r.NextDue.After(time.Now()) || !r.NextDue.Before(r.NotAfter) {
		t.Errorf("second timer renewal = %+v", r)
	}
	// The status page has its renewal state, with when it is next due.
	if st, _ := h.readStatus(); len(st.Renewals) != 1 || st.Renewals[0].State != "ok" || !st.Renewals[0].NextDue.Equal(o.Renewals[0].NextDue) {
		t.Errorf("status renewals %+v", st.Renewals)
	}
	if n := h.acmeOrders(); n != 1 {
		t.Errorf("%d orders after the second timer run, want 1", n)
	}
	assertSetOnce(t, h)
	for _, w := range h.webhooks() {
		if strings.Contains(w, "failed") {
			t.Errorf("a webhook alert for a run that did not fail: %s", w)
		}
	}
}

// reportText reads a report the function wrote.
func reportText(t *testing.T, h *harness, url string) string {
	t.Helper()
	key := strings.TrimPrefix(url, "oss://"+bucket+"/")
	obj, err := h.st.Get(h.ctx, key)
	if err != nil {
		t.Fatalf("report %s: %v", url, err)
	}
	return string(obj.Data)
}

// TestE2ERenewDeployedByTrigger: a timer whose reconcile lists another
// folder still renews into CERTDROP_TRIGGER_PREFIX, and the OSS trigger's
// invocation for the new bundle.pem deploys it.
func TestE2ERenewDeployedByTrigger(t *testing.T) {
	h := newRenewHarness(t, nil)
	code, o := h.invoke(`{"triggerTime":"2026-11-23T03:00:00Z","triggerName":"daily","payload":"{\"mode\":\"reconcile\",\"prefix\":\"certs/elsewhere/\"}"}`)
	if code != http.StatusOK || len(o.Renewals) != 1 || !o.Renewals[0].Renewed || len(o.Reports) != 0 {
		t.Fatalf("HTTP %d %s", code, dump(o))
	}
	h.settle()
	outs := h.recorded()
	trig := outs[len(outs)-1]
	if trig.Trigger != "oss" || len(trig.Reports) != 1 {
		t.Fatalf("the trigger's invocation: %s", dump(trig))
	}
	sameStates(t, "trigger", states(trig), allDeployed)
	if trig.Reports[0].Bundle.NotAfter.Unix() != o.Renewals[0].NotAfter.Unix() {
		t.Errorf("the trigger deployed a certificate expiring %v, want the renewed one", trig.Reports[0].Bundle.NotAfter)
	}
	assertSetOnce(t, h)
}

// TestE2ERenewRecordNeverVisible: the zone's records never reach its DNS
// servers, so the challenge cannot be answered: the failure is in the
// outcome (status failed, a classified error with a hint), reaches the
// webhook, is not answered as an error (FC does not retry: the engine's
// back-off decides), and the reconcile still runs. The next timer run is
// held back by the back-off, and says so in the webhook again.
func TestE2ERenewRecordNeverVisible(t *testing.T) {
	h := newRenewHarness(t, func(c *cloudsim.Config) { c.DNS.Zones[0].Unpublished = true })
	code, o := h.invoke(timerEvent)
	if code != http.StatusOK || o.Status != "failed" || len(o.Renewals) != 1 {
		t.Fatalf("HTTP %d %s", code, dump(o))
	}
	r := o.Renewals[0]
	if r.Renewed || r.Error == nil || r.Error.Code != "RecordNotVisible" || r.Error.Transient || r.Error.Hint == "" || r.NextAttempt.IsZero() {
		t.Fatalf("renewal = %+v (error %+v)", r, r.Error)
	}
	if _, err := h.st.Get(h.ctx, "certs/example.com/bundle.pem"); err == nil {
		t.Error("a bundle was written for a failed renewal")
	}
	if o.Reports == nil || o.Error != nil {
		t.Errorf("the reconcile did not run after the failed renewal: %s", dump(o))
	}
	hooks := h.webhooks()
	if len(hooks) != 1 || !strings.Contains(hooks[0], "RecordNotVisible: 1 renewal(s) failed: example.com") {
		t.Fatalf("webhook posts: %q", hooks)
	}
	if len(h.recorded()) != 1 {
		t.Errorf("%d invocations, want 1 (no retry)", len(h.recorded()))
	}

	code, o = h.invoke(timerEvent)
	if r := o.Renewals[0]; code != http.StatusOK || r.Skipped != "backoff" || !r.Due || r.Error != nil {
		t.Fatalf("second timer: HTTP %d %+v", code, r)
	}
	hooks = h.webhooks()
	if len(hooks) != 2 || !strings.Contains(hooks[1], "backing off") {
		t.Errorf("the second run's webhook: %q", hooks)
	}
	if n := h.acmeOrders(); n != 1 {
		t.Errorf("%d orders, want 1 (the back-off holds the second)", n)
	}
}

// TestE2ERenewRateLimited: the CA refuses the order (rateLimited with
// Retry-After): transient, in the outcome and the webhook, no FC retry,
// the next attempt after the CA's wait.
func TestE2ERenewRateLimited(t *testing.T) {
	h := newRenewHarness(t, func(c *cloudsim.Config) {
		c.ACME.RateLimit = cloudsim.RateLimitSettings{Times: 5, RetryAfter: 3 * time.Hour}
	})
	code, o := h.invoke(timerEvent)
	if code != http.StatusOK || o.Status != "failed" || len(o.Renewals) != 1 {
		t.Fatalf("HTTP %d %s", code, dump(o))
	}
	r := o.Renewals[0]
	if r.Renewed || r.Error == nil || r.Error.Code != "RateLimited" || !r.Error.Transient || r.Skipped != "rate_limited" ||
		r.NextAttempt.Before(time.Now().Add(2*time.Hour)) {
		t.Fatalf("renewal = %+v (error %+v)", r, r.Error)
	}
	if hooks := h.webhooks(); len(hooks) != 1 || !strings.Contains(hooks[0], "RateLimited") {
		t.Errorf("webhook posts: %q", hooks)
	}
	if n := len(h.recorded()); n != 1 {
		t.Errorf("%d invocations, want 1 (no retry)", n)
	}
}

// TestE2ERenewManual: the manual renewal of a certificate that is not due
// orders nothing; forced, it orders, writes and deploys the new
// certificate in the same invocation (the trigger's invocation then finds
// every target unchanged).
func TestE2ERenewManual(t *testing.T) {
	h := newRenewHarness(t, func(c *cloudsim.Config) { c.OSS.Triggers = nil })
	if _, o := h.invoke(timerEvent); len(o.Renewals) != 1 || !o.Renewals[0].Renewed {
		t.Fatalf("first issuance: %s", dump(o))
	}
	first, _ := h.st.Get(h.ctx, "certs/example.com/bundle.pem")

	code, o := h.invoke(`{"mode":"renew","certificate":"example.com"}`)
	if code != http.StatusOK || o.Trigger != "manual" || len(o.Renewals) != 1 || o.Renewals[0].Renewed || o.Renewals[0].Reason != "not_due" || len(o.Reports) != 0 {
		t.Fatalf("manual, not forced: HTTP %d %s", code, dump(o))
	}
	code, o = h.invoke(`{"mode":"renew","certificate":"EXAMPLE.com","force":true}`)
	if code != http.StatusOK || o.Status != "ok" || len(o.Renewals) != 1 {
		t.Fatalf("manual, forced: HTTP %d %s", code, dump(o))
	}
	r := o.Renewals[0]
	if !r.Renewed || r.Reason != "forced" {
		t.Fatalf("forced renewal = %+v", r)
	}
	second, _ := h.st.Get(h.ctx, "certs/example.com/bundle.pem")
	if string(first.Data) == string(second.Data) {
		t.Error("the forced renewal did not write a new bundle")
	}
	if len(o.Reports) != 1 || o.Reports[0].Bundle.NotAfter.Unix() != r.NotAfter.Unix() {
		t.Fatalf("the forced renewal was not deployed: %s", dump(o))
	}
	sameStates(t, "forced renewal", states(o), allDeployed)
	if n := h.acmeOrders(); n != 2 {
		t.Errorf("%d orders, want 2", n)
	}
	// A dry run says what is due and orders nothing.
	if _, o := h.invoke(`{"mode":"renew","certificate":"example.com","force":true,"dryRun":true}`); len(o.Renewals) != 1 ||
		o.Renewals[0].Skipped != "dry_run" || len(o.Reports) != 0 || h.acmeOrders() != 2 {
		t.Errorf("dry run: %s", dump(o))
	}
}

// TestE2ERenewUnknownCertificate: a renewal naming a certificate the
// manifest does not have is refused before any call, clearly, alerted,
// and not retried.
func TestE2ERenewUnknownCertificate(t *testing.T) {
	h := newRenewHarness(t, nil)
	code, o := h.invoke(`{"mode":"renew","certificate":"nope.example.org","force":true}`)
	if code != http.StatusOK || o.Status != "failed" || o.Error == nil || o.Error.Code != "UnknownCertificate" ||
		!strings.Contains(o.Error.Message, `"nope.example.org"`) || !strings.Contains(o.Error.Message, "example.com") || o.Error.Transient {
		t.Fatalf("HTTP %d %s", code, dump(o))
	}
	if len(o.Renewals) != 0 || h.acmeOrders() != 0 || h.allSets() != 0 {
		t.Errorf("calls were made for an unknown certificate: %s", dump(o))
	}
	if hooks := h.webhooks(); len(hooks) != 1 || !strings.Contains(hooks[0], "UnknownCertificate") {
		t.Errorf("webhook posts: %q", hooks)
	}
	// A typo in the event is refused as a bad event.
	code, o = h.invoke(`{"mode":"renew","certificate":"example.com","forced":true}`)
	if code != http.StatusOK || o.Error == nil || o.Error.Code != "BadEvent" || !strings.Contains(o.Error.Message, "forced") {
		t.Errorf("typo: HTTP %d %s", code, dump(o))
	}
}

// TestE2ERenewRecordLeftBehind: the certificate is renewed but the DNS API
// will not delete the challenge records (after the preflight's): the run
// fails (a person must delete them), and the webhook names the record.
func TestE2ERenewRecordLeftBehind(t *testing.T) {
	h := newRenewHarness(t, func(c *cloudsim.Config) {
		c.Faults.Scripted = []cloudsim.Script{{Domain: "example.com", API: "DeleteDomainRecord", Code: "IncorrectDomainUser", Times: 100, After: 1}}
	})
	h.leftoversExpected = true
	code, o := h.invoke(timerEvent)
	if code != http.StatusOK || o.Status != "failed" || len(o.Renewals) != 1 {
		t.Fatalf("HTTP %d %s", code, dump(o))
	}
	if r := o.Renewals[0]; !r.Renewed || len(r.LeftBehind) != 2 || r.LeftBehind[0] != "_acme-challenge.example.com" { // the apex's and the wildcard's
		t.Fatalf("renewal = %+v", r)
	}
	sameStates(t, "timer", states(o), allDeployed)
	hooks := h.webhooks()
	if len(hooks) == 0 || !strings.Contains(hooks[len(hooks)-1], "_acme-challenge.example.com") ||
		!strings.Contains(hooks[len(hooks)-1], "left behind") {
		t.Errorf("webhook posts: %q", hooks)
	}
}

// TestE2ERenewSetupFails: CERTDROP_ACME_TRUST_ROOTS cannot be read: every
// certificate's renewal fails with the reason and the webhook hears of
// it, and the reconcile still deploys what the bucket holds.
func TestE2ERenewSetupFails(t *testing.T) {
	h := newRenewHarnessEnv(t, func(c *cloudsim.Config) { c.OSS.Triggers = nil },
		map[string]string{"CERTDROP_ACME_TRUST_ROOTS": "/nonexistent/acme-roots.pem"})
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.putQuiet("certs/by-hand/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
	code, o := h.invoke(timerEvent)
	if code != http.StatusOK || o.Status != "failed" || len(o.Renewals) != 1 {
		t.Fatalf("HTTP %d %s", code, dump(o))
	}
	if e := o.Renewals[0].Error; e == nil || e.Code != "RenewalSetup" || !strings.Contains(e.Message, "/nonexistent/acme-roots.pem") {
		t.Fatalf("renewal error = %+v", e)
	}
	sameStates(t, "reconcile", states(o), allDeployed)
	if hooks := h.webhooks(); len(hooks) == 0 || !strings.Contains(hooks[len(hooks)-1], "RenewalSetup") {
		t.Errorf("webhook posts: %q", hooks)
	}
	if h.acmeOrders() != 0 {
		t.Error("an order without the CA's roots")
	}
}

// TestE2ERenewDeadline: the invocation's deadline less the safety margin
// falls while the CA holds its answer to the challenge: the renewal stops
// there (Deadline, transient), its records are removed (checked at the
// end), the back-off is written, and the invocation answers in time.
func TestE2ERenewDeadline(t *testing.T) {
	// 900 s of timeout less an 897 s margin: 3 s to work in.
	h := newRenewHarnessEnv(t, func(c *cloudsim.Config) { c.ACME.Delays = map[string]time.Duration{"challenge": time.Minute} },
		map[string]string{"CERTDROP_SAFETY_MARGIN": "897"})
	start := time.Now()
	code, o := h.invoke(timerEvent)
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the invocation took %v", took)
	}
	if len(o.Renewals) != 1 {
		t.Fatalf("HTTP %d %s", code, dump(o))
	}
	r := o.Renewals[0]
	if r.Renewed || r.Error == nil || r.Error.Code != "Deadline" || !r.Error.Transient || r.NextAttempt.IsZero() || o.Status != "failed" {
		t.Fatalf("renewal = %+v (error %+v)", r, r.Error)
	}
	if hooks := h.webhooks(); len(hooks) == 0 || !strings.Contains(hooks[len(hooks)-1], "Deadline") {
		t.Errorf("webhook posts: %q", hooks)
	}
	added := 0
	for _, e := range h.sim.Journal().Entries() {
		if e.Service == "alidns" && e.API == "AddDomainRecord" && e.Outcome == "ok" {
			added++
		}
	}
	if added == 0 {
		t.Error("no record was written before the deadline")
	}
}
