package job_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/job"
)

// reconcileTimer is the daily timer's event, reconciling certs/.
const reconcileTimer = `{"triggerTime":"2026-11-23T03:00:00Z","triggerName":"daily","payload":"{\"mode\":\"reconcile\",\"prefix\":\"certs/\"}"}`

// TestE2ECombinedForeignKey: one object holding a certificate and a key
// that does not match it can never complete: it is invalid at once,
// written and alerted, and not retried; it is never left waiting, silent.
func TestE2ECombinedForeignKey(t *testing.T) {
	h := newHarness(t, nil)
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	foreign := h.leaf(time.Now().AddDate(0, 3, 0), "other.example.com")
	h.put("certs/example.com/bundle.pem", append(h.fullchain(l), foreign.KeyPEM...))
	outs := h.recorded()
	if len(outs) != 1 {
		t.Fatalf("%d invocations, want 1", len(outs))
	}
	o := outs[0]
	if len(o.Waiting) != 0 || len(o.Invalid) != 1 || o.Status != "failed" || o.ReportKey == "" ||
		!strings.Contains(o.Invalid[0].Error.Message, "matches none") {
		t.Errorf("outcome: waiting %v invalid %+v status %s report %q", o.Waiting, o.Invalid, o.Status, o.ReportKey)
	}
	if d := h.sim.OSS().Deliveries()[0]; !d.OK || d.Attempts != 1 {
		t.Errorf("delivery ok=%v attempts=%d: a permanent failure is not retried", d.OK, d.Attempts)
	}
	if hooks := h.webhooks(); len(hooks) != 1 || !strings.Contains(hooks[0], "1 bundle(s) refused: certs/example.com/") {
		t.Errorf("webhook posts %q", hooks)
	}
	if h.allSets() != 0 {
		t.Errorf("%d Set calls", h.allSets())
	}
}

// TestE2EWaitLimit: half a pair, and a renewed certificate next to the old
// key, wait; once CERTDROP_WAIT_LIMIT has passed since their newest part
// was written they are failures, written and alerted, by the reconcile and
// by a re-run.
func TestE2EWaitLimit(t *testing.T) {
	h := newHarness(t, nil)
	// Half a pair.
	half := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.put("certs/example.com/fullchain.pem", h.fullchain(half))
	// A renewal whose new key never comes.
	old := h.leaf(time.Now().AddDate(0, 1, 0), "vod.example.com")
	h.put("certs/vod/privkey.pem", old.KeyPEM)
	h.put("certs/vod/fullchain.pem", h.fullchain(old))
	renewed := h.leaf(time.Now().AddDate(0, 3, 0), "vod.example.com")
	h.put("certs/vod/fullchain.pem", h.fullchain(renewed))
	outs := h.recorded()
	if len(outs) != 4 || len(outs[0].Waiting) != 1 || outs[0].Status != "waiting" || len(outs[3].Waiting) != 1 || outs[3].Failed() {
		t.Fatalf("within the limit: %d invocations, first %+v, last %+v", len(outs), outs[0], outs[len(outs)-1])
	}
	if outs[0].Waiting[0].Since == nil || outs[0].ReportKey == "" {
		t.Errorf("a waiting bundle says since when (%v) and is written (%q)", outs[0].Waiting[0].Since, outs[0].ReportKey)
	}
	if hooks := h.webhooks(); len(hooks) != 0 {
		t.Errorf("waiting within the limit alerted: %q", hooks)
	}

	h.later(job.DefaultWaitLimit + time.Minute)
	code, o := h.invoke(reconcileTimer)
	if code != http.StatusOK {
		t.Errorf("HTTP %d", code)
	}
	timedOut := map[string]bool{}
	for _, s := range o.Invalid {
		if s.Error != nil && s.Error.Code == "WaitTimeout" {
			timedOut[s.Unit] = true
		}
	}
	if !timedOut["certs/example.com/"] || !timedOut["certs/vod/"] || len(o.Waiting) != 0 || o.Status != "failed" {
		t.Errorf("after the limit: invalid %+v waiting %+v status %s", o.Invalid, o.Waiting, o.Status)
	}
	hooks := h.webhooks()
	if len(hooks) == 0 || !strings.Contains(hooks[len(hooks)-1], "still incomplete") {
		t.Errorf("webhook posts %q", hooks)
	}
	code, o = h.invoke(`{"bundle":"oss://` + bucket + `/certs/vod/"}`)
	// Both halves of the mismatched pair are named, each timed out.
	if code != http.StatusOK || len(o.Invalid) != 2 || o.Invalid[0].Error.Code != "WaitTimeout" || o.Invalid[1].Error.Code != "WaitTimeout" {
		t.Errorf("re-run after the limit: HTTP %d %+v", code, o.Invalid)
	}
	// The key arrives at last: deployed.
	h.put("certs/vod/privkey.pem", renewed.KeyPEM)
	outs = h.recorded()
	if st := states(outs[len(outs)-1]); st["vod vod.example.com"] != "deployed" {
		t.Errorf("the key arrived: %v", st)
	}
}

// TestE2EExpiringOnly: a reconcile that finds only expiring targets writes
// its report, says "expiring", and alerts.
func TestE2EExpiringOnly(t *testing.T) {
	soon := time.Now().Add(5*24*time.Hour + time.Hour)
	h := newHarness(t, func(c *cloudsim.Config) {
		c.OSS.Triggers = nil
		c.Domains.CDN[3].Installed = &cloudsim.SeedCert{CertName: "hand-made", NotAfter: soon}
	})
	h.putQuiet("certdrop/manifest.yaml", []byte("version: 1\ntargets:\n  - product: cdn\n    domain: legacy.other.org\n"))
	code, o := h.invoke(reconcileTimer)
	if code != http.StatusOK || len(o.Expiring) != 1 || o.Status != "expiring" || o.ReportKey == "" || len(h.reportObjects()) != 1 {
		t.Fatalf("HTTP %d status %s expiring %+v report %q", code, o.Status, o.Expiring, o.ReportKey)
	}
	if hooks := h.webhooks(); len(hooks) != 1 || !strings.Contains(hooks[0], "legacy.other.org") || !strings.Contains(hooks[0], "expiring") {
		t.Errorf("webhook posts %q", hooks)
	}
}

// TestE2EExpiringStaging: Describe reports what production carries, so a
// staging target's expiry cannot be observed: a staging target whose
// domain's production certificate runs out is not listed as expiring
// (the production target of the same domain is).
func TestE2EExpiringStaging(t *testing.T) {
	soon := time.Now().Add(5*24*time.Hour + time.Hour)
	h := newHarness(t, func(c *cloudsim.Config) {
		c.OSS.Triggers = nil
		c.Domains.CDN[0].Installed = &cloudsim.SeedCert{CertName: "hand-made-www", NotAfter: soon}
		c.Domains.VOD[0].Installed = &cloudsim.SeedCert{CertName: "hand-made", NotAfter: soon}
	})
	h.putQuiet("certdrop/manifest.yaml", []byte("version: 1\ntargets:\n"+
		"  - product: vod\n    domain: vod.example.com\n    staging: true\n"+
		"  - product: cdn\n    domain: www.example.com\n"))
	code, o := h.invoke(reconcileTimer)
	if code != http.StatusOK || len(o.Expiring) != 1 || o.Expiring[0].Domain != "www.example.com" {
		t.Fatalf("HTTP %d expiring %+v; want www.example.com only (vod.example.com is staging)", code, o.Expiring)
	}
}

// TestE2EReconcileSkipsBadObjects: an object over the size cap and a folder
// with too many parts are reported and skipped; the valid bundle is still
// deployed and the expiring list still made.
func TestE2EReconcileSkipsBadObjects(t *testing.T) {
	soon := time.Now().Add(5*24*time.Hour + time.Hour)
	h := newHarness(t, func(c *cloudsim.Config) {
		c.OSS.Triggers = nil
		c.Domains.CDN[3].Installed = &cloudsim.SeedCert{CertName: "hand-made", NotAfter: soon}
	})
	h.putQuiet("certdrop/manifest.yaml", []byte(testManifest+"  - product: cdn\n    domain: legacy.other.org\n"))
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.putQuiet("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
	h.putQuiet("certs/big/huge.pem", make([]byte, (1<<20)+1))
	for i := range bundle.MaxParts + 1 {
		h.putQuiet(fmt.Sprintf("certs/many/part%03d.pem", i), []byte("junk"))
	}
	code, o := h.invoke(reconcileTimer)
	if code != http.StatusOK {
		t.Errorf("HTTP %d", code)
	}
	sameStates(t, "reconcile", states(o), allDeployed)
	codes := map[string]string{}
	for _, s := range o.Invalid {
		codes[s.Unit] = s.Error.Code
	}
	if codes["certs/big/"] != "FolderTooLarge" || codes["certs/many/"] != "FolderTooLarge" {
		t.Errorf("invalid: %v", codes)
	}
	if len(o.Expiring) != 1 || o.Expiring[0].Domain != "legacy.other.org" {
		t.Errorf("expiring: %+v", o.Expiring)
	}
}

// TestE2ERunCannotStart: an invalid or missing manifest, and missing
// credentials, are written and alerted, and answered without an error
// (a retry would fail the same way).
func TestE2ERunCannotStart(t *testing.T) {
	tests := []struct {
		name     string
		manifest string // "" leaves none
		env      map[string]string
		code     string
	}{
		{"invalid manifest", "version: 1\ntargets:\n  - product: cdnn\n    domain: www.example.com\n", nil, "ManifestInvalid"},
		{"missing manifest", "", map[string]string{"CERTDROP_MANIFEST": "oss://" + bucket + "/certdrop/none.yaml"}, "ManifestUnreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarnessEnv(t, nil, tt.env)
			if tt.manifest != "" {
				h.putQuiet("certdrop/manifest.yaml", []byte(tt.manifest))
			}
			l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
			h.put("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
			outs := h.recorded()
			if len(outs) != 1 || outs[0].Error == nil || outs[0].Error.Code != tt.code || outs[0].ReportKey == "" || outs[0].Error.Transient {
				t.Fatalf("%d invocations: %+v", len(outs), outs)
			}
			if hooks := h.webhooks(); len(hooks) != 1 || !strings.Contains(hooks[0], tt.code) {
				t.Errorf("webhook posts %q", hooks)
			}
		})
	}
}

// TestE2ENoCredentials: with no credentials anywhere (no x-fc-* headers, no
// environment), the run fails before any call, says why, is written
// nowhere (no store can be opened) but answered and alerted.
func TestE2ENoCredentials(t *testing.T) {
	h := newHarnessEnv(t, func(c *cloudsim.Config) { c.OSS.Triggers = nil },
		map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "", "HOME": "/nonexistent"})
	req, _ := http.NewRequestWithContext(h.ctx, http.MethodPost, h.fnURL+"/invoke",
		strings.NewReader(`{"bundle":"oss://`+bucket+`/certs/example.com/"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	outs := h.recorded()
	if len(outs) != 1 || outs[0].Error == nil || !strings.Contains(outs[0].Error.Message, "no Alibaba Cloud credentials") ||
		!strings.Contains(outs[0].Error.Hint, "credentials") || outs[0].ReportError == nil {
		t.Fatalf("outcome %+v", outs)
	}
	if hooks := h.webhooks(); len(hooks) != 1 || !strings.Contains(hooks[0], "no Alibaba Cloud credentials") {
		t.Errorf("webhook posts %q", hooks)
	}
	if n := len(h.sim.Journal().Entries()); n != 1 { // the harness's manifest upload
		t.Errorf("%d calls", n)
	}
}
