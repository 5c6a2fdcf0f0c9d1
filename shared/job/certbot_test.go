package job_test

import (
	"strings"
	"testing"
	"time"
)

// TestE2ECertbotUploadOrder: certbot's live/ folder arrives as `certdrop
// push` uploads it, cert.pem, chain.pem, fullchain.pem, then privkey.pem.
// Every upload before the key is waiting (the leaf is there, its key may
// be next), none is ignored, and the key deploys the bundle once.
func TestE2ECertbotUploadOrder(t *testing.T) {
	h := newHarness(t, nil)
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	const dir = "certs/example.com/"
	files := []struct {
		name string
		data []byte
	}{
		{"cert.pem", l.CertPEM},
		{"chain.pem", h.ca.CertPEM()},
		{"fullchain.pem", h.fullchain(l)},
		{"privkey.pem", l.KeyPEM},
	}
	for _, f := range files {
		h.put(dir+f.name, f.data)
	}
	outs := h.recorded()
	if len(outs) != len(files) {
		t.Fatalf("%d invocations, want %d", len(outs), len(files))
	}
	for i, f := range files[:3] {
		o := outs[i]
		if o.Status != "waiting" || len(o.Waiting) != 1 || len(o.Ignored) != 0 || len(o.Reports) != 0 || o.Failed() {
			t.Errorf("%s without the key: status %q, waiting %+v, ignored %+v, %d reports", f.name, o.Status, o.Waiting, o.Ignored, len(o.Reports))
			continue
		}
		if w := o.Waiting[0]; !strings.Contains(w.Reason, "no private key") {
			t.Errorf("%s: waiting for %q, want the key", f.name, w.Reason)
		}
	}
	sameStates(t, "privkey.pem", states(outs[3]), allDeployed)
	assertSetOnce(t, h)
}
