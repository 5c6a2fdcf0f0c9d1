package job_test

import (
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
)

// TestE2EOSSReadsRetried: OSS answers 5xx (or resets the connection)
// once to each read of a delivery: the manifest's HEAD and GET, the
// folder's listing, the bundle's HEAD and GET. Each read is tried again
// within the invocation, which deploys everything at once: Function
// Compute has nothing to retry.
func TestE2EOSSReadsRetried(t *testing.T) {
	h := newHarness(t, func(c *cloudsim.Config) {
		c.OSS.Faults.Scripted = []cloudsim.OSSScript{
			{API: "HeadObject", Key: "certdrop/manifest.yaml"},
			{API: "GetObject", Key: "certdrop/manifest.yaml", Code: "InternalError"},
			{API: "ListObjects", Key: "certs/example.com/", Fault: "reset"},
			{API: "HeadObject", Key: "certs/example.com/bundle.pem", Code: "InternalError"},
			{API: "GetObject", Key: "certs/example.com/bundle.pem"},
		}
	})
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.put("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
	outs := h.recorded()
	if len(outs) != 1 {
		t.Fatalf("%d invocations, want 1 (no retry by Function Compute)", len(outs))
	}
	if outs[0].Error != nil || len(outs[0].Invalid) != 0 {
		t.Fatalf("error %+v, invalid %+v", outs[0].Error, outs[0].Invalid)
	}
	sameStates(t, "delivery", states(outs[0]), allDeployed)
	assertSetOnce(t, h)
	faults := 0
	for _, e := range h.sim.Journal().Entries() {
		if e.Service == "oss" && e.Fault != "" {
			faults++
			if !strings.HasPrefix(e.Key, "certdrop/manifest.yaml") && !strings.HasPrefix(e.Key, "certs/example.com/") && e.Key != "" {
				t.Errorf("unexpected fault on %s %s", e.API, e.Key)
			}
		}
	}
	if faults != 5 {
		t.Errorf("%d OSS faults injected, want the 5 scripted", faults)
	}
}
