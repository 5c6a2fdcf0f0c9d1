package job_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
)

// TestE2ERollbackAccounts: two renewals deployed by the timer by
// reference to the function's own account and to media, through its
// role; the manual rollback to the first sets each target back to it in
// its own account, by the CertId it has in that account's CAS, and the
// report lists both.
func TestE2ERollbackAccounts(t *testing.T) {
	h := newMediaHarness(t)
	h.putQuiet("certdrop/manifest.yaml", []byte(mediaManifest))
	var names []string
	for i := 2; i >= 1; i-- {
		l := h.issued(time.Now().Add(-time.Duration(i) * time.Hour))
		h.putQuiet("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
		code, o := h.invoke(reconcileTimer)
		if code != http.StatusOK || len(o.Reports) != 1 || o.Status != "ok" {
			js, _ := json.MarshalIndent(o, "", " ")
			t.Fatalf("timer %d: HTTP %d %s", 3-i, code, js)
		}
		names = append(names, o.Reports[0].CAS[0].Name)
	}
	code, o := h.invoke(`{"mode":"rollback","to":"` + names[0] + `"}`)
	if code != http.StatusOK || len(o.Reports) != 1 || o.Reports[0].Summary.Deployed != 2 {
		js, _ := json.MarshalIndent(o, "", " ")
		t.Fatalf("rollback: HTTP %d %s", code, js)
	}
	ids := map[string]int64{}
	for _, c := range o.Reports[0].CAS {
		ids[c.Account] = c.CertID
	}
	for _, tc := range []struct {
		sim     *cloudsim.Sim
		account string
		domain  string
	}{{h.sim, "", "www.example.com"}, {h.sim.Account(mediaAccount), "media", "m00.example.com"}} {
		got, _ := tc.sim.Installed("cdn", tc.domain)
		if got.CertName != names[0] || got.CertID == 0 || got.CertID != ids[tc.account] {
			t.Errorf("%s carries %s, CertId %d; want %s by the CertId of its account's CAS (%v)", tc.domain, got.CertName, got.CertID, names[0], ids)
		}
	}
	if len(ids) != 2 {
		t.Errorf("report CAS %+v; want one entry per account", o.Reports[0].CAS)
	}
}
