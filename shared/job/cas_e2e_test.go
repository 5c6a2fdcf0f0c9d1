package job_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloudsim"
)

const casManifest = `version: 1
defaults:
  delivery: cas
  prune: true
targets:
  - product: cdn
    domains: [www.example.com, img.example.com]
  - product: vod
    domain: vod.example.com
`

// TestE2ECASDeliveryRollbackPrune runs the function against the emulator
// with delivery: cas and prune: true: three renewals, each deployed by the
// timer by reference after one upload (the key crosses the wire once per
// certificate); the third timer prunes the first certificate (carried by
// no target, older than the newest two) and keeps the others; a manual
// rollback to the second sets every target back by reference without
// sending a key; a rollback to the pruned one is refused, alerted, and
// sets nothing.
func TestE2ECASDeliveryRollbackPrune(t *testing.T) {
	h := newHarness(t, func(c *cloudsim.Config) { c.OSS.Triggers = nil })
	h.putQuiet("certdrop/manifest.yaml", []byte(casManifest))
	timer := reconcileTimer
	var names []string
	for i := 3; i >= 1; i-- {
		l := h.issued(time.Now().Add(-time.Duration(i) * time.Hour))
		h.putQuiet("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
		code, o := h.invoke(timer)
		if code != http.StatusOK || len(o.Reports) != 1 || o.Status != "ok" {
			js, _ := json.MarshalIndent(o, "", " ")
			t.Fatalf("timer %d: HTTP %d %s", 4-i, code, js)
		}
		rep := o.Reports[0]
		if rep.Summary.Deployed != 3 || len(rep.CAS) != 1 || !rep.CAS[0].Uploaded || rep.CAS[0].CertID == 0 {
			t.Errorf("timer %d: %+v CAS %+v; want 3 deployed after one upload", 4-i, rep.Summary, rep.CAS)
		}
		for _, tg := range rep.Targets {
			if tg.CertID != rep.CAS[0].CertID {
				t.Errorf("timer %d: %s %s set to CertId %d; want %d", 4-i, tg.Product, tg.Domain, tg.CertID, rep.CAS[0].CertID)
			}
		}
		names = append(names, rep.CAS[0].Name)
		if o.Prune == nil {
			t.Fatalf("timer %d: no prune in the outcome though the manifest says prune: true", 4-i)
		}
		if i == 1 {
			if len(o.Prune.Deleted) != 1 || o.Prune.Deleted[0].Name != names[0] || o.Prune.DryRun {
				t.Errorf("third timer pruned %+v; want only %s deleted", o.Prune.Deleted, names[0])
			}
		} else if len(o.Prune.Deleted) != 0 {
			t.Errorf("timer %d pruned %+v; want nothing (fewer than three)", 4-i, o.Prune.Deleted)
		}
	}
	sent, returned := h.sim.Journal().KeysSent()
	if sent != 3 || returned != 0 {
		t.Errorf("keys crossed the wire %d times out, %d back; want 3 (one upload per certificate), 0", sent, returned)
	}

	code, o := h.invoke(`{"mode":"rollback","to":"` + names[1] + `"}`)
	if code != http.StatusOK || len(o.Reports) != 1 || o.Reports[0].Mode != "rollback" || o.Reports[0].Summary.Deployed != 3 {
		js, _ := json.MarshalIndent(o, "", " ")
		t.Fatalf("rollback: HTTP %d %s", code, js)
	}
	for _, d := range []string{"www.example.com", "vod.example.com"} {
		product := map[string]string{"www.example.com": "cdn", "vod.example.com": "vod"}[d]
		if got, _ := h.sim.Installed(product, d); got.CertName != names[1] || got.CertType != "cas" {
			t.Errorf("%s carries %s (%s) after the rollback; want %s by reference", d, got.CertName, got.CertType, names[1])
		}
	}
	if s, _ := h.sim.Journal().KeysSent(); s != sent {
		t.Errorf("the rollback sent a key %d times; want 0", s-sent)
	}

	sets := h.allSets()
	hooks := len(h.webhooks())
	code, o = h.invoke(`{"mode":"rollback","to":"` + names[0] + `"}`)
	if code != http.StatusOK || o.Error == nil || o.Error.Code != "RollbackNotInCAS" || o.Status != "failed" || !strings.Contains(o.Error.Message, names[0]) {
		t.Errorf("rollback to a pruned certificate: HTTP %d %+v; want failed with RollbackNotInCAS", code, o.Error)
	}
	if h.allSets() != sets {
		t.Errorf("a refused rollback sent %d Set calls", h.allSets()-sets)
	}
	if hs := h.webhooks(); len(hs) == hooks || !strings.Contains(hs[len(hs)-1], "RollbackNotInCAS") {
		t.Errorf("the refused rollback was not posted to the webhook")
	}
	_ = bundle.Redacted
}
