package status

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// fleet is a status of n targets as a large account has them: products
// mixed, one in ten failed with an API error, every one probed.
func fleet(n int) *Status {
	products := []string{"cdn", "dcdn", "vod", "live", "oss"}
	obs := make([]Observation, n)
	for i := range obs {
		addr := fmt.Sprintf("host%05d.shop-%03d.example.com", i, i%997)
		o := Observation{
			Product: products[i%len(products)], Address: addr, Outcome: "deployed",
			Cert: &Cert{Name: addr, Issuer: "CN=R11,O=Let's Encrypt,C=US", NotAfter: now.Add(time.Duration(i%90) * 24 * time.Hour),
				Fingerprint: strings.Repeat("ab", 32)},
			Probe: &Probe{Name: addr, Verdict: "serving", At: now,
				Served: &Cert{Name: addr, NotAfter: now.Add(time.Duration(i%90) * 24 * time.Hour)}},
		}
		if o.Product == "oss" {
			o.Bucket = fmt.Sprintf("bucket-%03d", i%50)
		}
		if i%10 == 0 {
			o.Outcome, o.Error = "failed", "Throttling.User: Request was denied due to user flow control."
		}
		obs[i] = o
	}
	var runs []Run
	st := Merge(nil, Update{Targets: obs}, now, Options{})
	for i := range MaxRuns {
		runs = append(runs, Run{ID: fmt.Sprintf("20300301T%06dZ-%04x", i, i), StartedAt: now.Add(-time.Duration(i) * time.Hour),
			Outcome: "ok", Summary: "10000 unchanged", ReportKey: fmt.Sprintf("certdrop/reports/2030-03-01/req-%d.json", i)})
	}
	st.Runs = runs
	return st
}

// TestPageSize holds the page for 10,000 targets to a usable size (the
// figure is in the package doc).
func TestPageSize(t *testing.T) {
	st := fleet(10_000)
	page, err := HTML(st, HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	js, err := st.JSON()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10,000 targets: page %d bytes (%d a target), status.json %d bytes", len(page), len(page)/10_000, len(js))
	if len(page) > 3<<20 {
		t.Errorf("page of %d bytes for 10,000 targets, want under 3 MiB", len(page))
	}
}

func BenchmarkHTML10k(b *testing.B) {
	st := fleet(10_000)
	for b.Loop() {
		if _, err := HTML(st, HTMLOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMerge10k(b *testing.B) {
	prev := fleet(10_000)
	obs := make([]Observation, 0, 100)
	for i := range 100 {
		obs = append(obs, Observation{Product: "cdn", Address: prev.Targets[i].Address, Outcome: "unchanged"})
	}
	for b.Loop() {
		Merge(prev, Update{Targets: obs, Run: &Run{ID: "r", StartedAt: now, Outcome: "ok"}}, now, Options{})
	}
}
