package job_test

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestE2ELegoFolder: lego keeps every certificate it manages in one
// certificates/ folder (<domain>.crt with its chain, <domain>.issuer.crt,
// <domain>.key, <domain>.json). Each upload deploys the bundle its object
// belongs to, and only that one; the report names the files that formed
// it; a re-run of the folder handles every bundle in it. (The folder used
// to be refused once it held a second key.)
func TestE2ELegoFolder(t *testing.T) {
	h := newHarness(t, nil)
	a := h.leaf(time.Now().AddDate(0, 3, 0), "www.example.com", "img.example.com")
	b := h.leaf(time.Now().AddDate(0, 3, 0), "vod.example.com", "pull.example.com")
	const dir = "certs/lego/"
	for _, c := range []struct {
		name string
		leaf []byte
		key  []byte
	}{{"www.example.com", h.fullchain(a), a.KeyPEM}, {"vod.example.com", h.fullchain(b), b.KeyPEM}} {
		h.put(dir+c.name+".crt", c.leaf)
		h.put(dir+c.name+".issuer.crt", h.ca.CertPEM())
		h.put(dir+c.name+".key", c.key)
		h.put(dir+c.name+".json", []byte(`{"domain":"`+c.name+`"}`))
	}
	outs := h.recorded()
	if len(outs) != 8 {
		t.Fatalf("%d invocations, want 8", len(outs))
	}
	var deployed [][]string
	for i, o := range outs {
		if o.Failed() || len(o.Invalid) > 0 || o.Error != nil {
			t.Errorf("invocation %d failed: invalid %+v error %+v", i, o.Invalid, o.Error)
		}
		for _, r := range o.Reports {
			deployed = append(deployed, r.Bundle.Keys)
		}
	}
	want := [][]string{
		{dir + "www.example.com.crt", dir + "www.example.com.issuer.crt", dir + "www.example.com.key"},
		{dir + "vod.example.com.crt", dir + "vod.example.com.issuer.crt", dir + "vod.example.com.key"},
	}
	if fmt.Sprint(deployed) != fmt.Sprint(want) {
		t.Errorf("bundles deployed, by their files:\n got %v\nwant %v", deployed, want)
	}
	// The second certificate's upload waits for its key, without touching
	// the first bundle.
	if len(outs[4].Waiting) != 1 || len(outs[4].Reports) != 0 || !slices.Contains(outs[4].Waiting[0].Keys, dir+"vod.example.com.crt") {
		t.Errorf("vod.example.com.crt alone: waiting %+v reports %d", outs[4].Waiting, len(outs[4].Reports))
	}
	sets := h.setCalls()
	for _, d := range []string{"www.example.com", "img.example.com", "vod.example.com", "pull.example.com"} {
		if sets[d] != 1 {
			t.Errorf("%s: %d successful Set calls, want 1", d, sets[d])
		}
	}
	if sets[".example.com"] != 0 {
		t.Errorf("the wildcard domain, covered by neither certificate, was set %d times", sets[".example.com"])
	}

	code, o := h.invoke(`{"bundle":"oss://` + bucket + `/` + dir + `"}`)
	if code != 200 || len(o.Reports) != 2 || o.Failed() {
		t.Fatalf("re-run of the folder: HTTP %d, %d reports, %+v", code, len(o.Reports), o)
	}
	for _, r := range o.Reports {
		for _, tg := range r.Targets {
			if tg.State != "unchanged" {
				t.Errorf("re-run: %s %s is %s, want unchanged", tg.Product, tg.Domain, tg.State)
			}
		}
	}
}
