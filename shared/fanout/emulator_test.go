package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/fanout"
)

// quick raises every quota so that the scenarios below take a fraction of
// a second; the behaviour under test is which calls happen, not the pace.
func quick() map[string]float64 {
	q := map[string]float64{}
	for a := range cloudsim.DefaultQuotas() {
		q[a] = 300
	}
	return q
}

// fastRetry keeps backoff short for tests.
func fastRetry(o fanout.Options) fanout.Options {
	if o.Quotas == nil {
		o.Quotas = quick()
	}
	o.BaseDelay, o.MaxDelay = time.Millisecond, 20*time.Millisecond
	return o
}

// checkJournal asserts what the emulator saw against what the report says:
// no target is deployed without a successful Set for its domain, a target
// with no Set attempt has no Set in the journal, and the Set calls are
// exactly the attempts the results count (so never more than targets plus
// retries).
func checkJournal(t *testing.T, sim *cloudsim.Sim, res []fanout.Result) {
	t.Helper()
	okSets, allSets := map[string]int{}, map[string]int{}
	for _, e := range sim.Journal().Entries() {
		if strings.HasPrefix(e.API, "Set") {
			allSets[e.Domain]++
			if e.Outcome == "ok" {
				okSets[e.Domain]++
			}
		}
	}
	total := 0
	for _, r := range res {
		d := r.Call.DomainName
		total += r.Attempts
		if r.State == fanout.Deployed && okSets[d] == 0 {
			t.Errorf("%s reported deployed without a successful Set", d)
		}
		if allSets[d] != r.Attempts {
			t.Errorf("%s: the emulator saw %d Set calls, the report %d attempts", d, allSets[d], r.Attempts)
		}
	}
	n := 0
	for _, v := range allSets {
		n += v
	}
	if n != total {
		t.Errorf("the emulator saw %d Set calls, the report counts %d attempts", n, total)
	}
}

func countStates(res []fanout.Result) map[fanout.State]int {
	m := map[fanout.State]int{}
	for _, r := range res {
		m[r.State]++
	}
	return m
}

func TestAgainstEmulator(t *testing.T) {
	later := time.Now().AddDate(1, 0, 0)
	tests := []struct {
		name  string
		spec  fleetSpec
		opts  fanout.Options
		want  map[fanout.State]int
		check func(t *testing.T, f *fleet, res []fanout.Result)
	}{
		{
			name: "throttling storm", spec: fleetSpec{CDN: 20, VOD: 5, Live: 5, Faults: cloudsim.Faults{Seed: 11, ThrottleRate: 0.5}},
			want: map[fanout.State]int{fanout.Deployed: 30},
			check: func(t *testing.T, f *fleet, res []fanout.Result) {
				thr := 0
				for _, r := range res {
					thr += r.Throttled
				}
				if thr == 0 {
					t.Error("no throttling was seen: the storm did not happen")
				}
			},
		},
		{
			name: "5xx burst", spec: fleetSpec{CDN: 10, Mutate: func(c *cloudsim.Config) {
				for _, d := range c.Domains.CDN[:5] {
					c.Faults.Scripted = append(c.Faults.Scripted, cloudsim.Script{Domain: d.Name, API: "SetCdnDomainSSLCertificate", Code: "ServiceUnavailable", Status: 503, Times: 3})
				}
			}},
			want: map[fanout.State]int{fanout.Deployed: 10},
			check: func(t *testing.T, f *fleet, res []fanout.Result) {
				for i, r := range res {
					if want := map[bool]int{true: 4, false: 1}[i < 5]; r.Attempts != want {
						t.Errorf("%s: %d attempts, want %d", r.Call.DomainName, r.Attempts, want)
					}
				}
			},
		},
		{
			name: "connection resets", spec: fleetSpec{CDN: 20, Faults: cloudsim.Faults{Seed: 12, ResetRate: 0.3}},
			want: map[fanout.State]int{fanout.Deployed: 20},
		},
		{
			name: "slow calls past the client timeout",
			spec: fleetSpec{CDN: 6, Faults: cloudsim.Faults{Seed: 13, SlowRate: 0.3, SlowDelay: 2 * time.Second},
				Client: func(o *cloud.Options) { o.ReadTimeout = 300 * time.Millisecond }},
			want: map[fanout.State]int{fanout.Deployed: 6},
		},
		{
			name: "deadline in the middle of a run", spec: fleetSpec{CDN: 30},
			opts: fanout.Options{Quotas: map[string]float64{"SetCdnDomainSSLCertificate": 10, "DescribeDomainCertificateInfo": 100}},
			check: func(t *testing.T, f *fleet, res []fanout.Result) {
				c := countStates(res)
				if c[fanout.Deployed] == 0 || c[fanout.NotStarted] == 0 || c[fanout.Deployed]+c[fanout.NotStarted] != 30 {
					t.Errorf("states %v: want some deployed and the rest not_started", c)
				}
				for _, r := range res {
					var se *fanout.StopError
					if r.State == fanout.NotStarted && (r.Attempts != 0 || !errors.As(r.Err, &se) || se.Code != "Deadline") {
						t.Errorf("%s: not_started with %d attempts, error %v", r.Call.DomainName, r.Attempts, r.Err)
					}
				}
			},
		},
		{
			name: "one offline domain among many", spec: fleetSpec{CDN: 20, Offline: []string{"c00007.bench.test"}},
			want: map[fanout.State]int{fanout.Deployed: 19, fanout.Failed: 1},
			check: func(t *testing.T, f *fleet, res []fanout.Result) {
				var ce *cloud.Error
				if r := res[7]; r.State != fanout.Failed || !errors.As(r.Err, &ce) || ce.Code != "InvalidDomain.Offline" || ce.Hint == "" || r.Attempts != 1 {
					t.Errorf("the offline domain: %s, %d attempts, %v", r.State, r.Attempts, r.Err)
				}
			},
		},
		{
			name: "no downgrade", spec: fleetSpec{CDN: 4, Seed: map[string]*cloudsim.SeedCert{
				"c00001.bench.test": {CertName: "newer-by-hand", NotAfter: later},
			}},
			want: map[fanout.State]int{fanout.Deployed: 3, fanout.SkippedNewer: 1},
			check: func(t *testing.T, f *fleet, res []fanout.Result) {
				if r := res[1]; r.State != fanout.SkippedNewer || r.Attempts != 0 || r.Before == nil || r.Before.CertName != "newer-by-hand" {
					t.Errorf("%+v", r)
				}
			},
		},
		{
			name: "forced over a newer certificate", opts: fanout.Options{Force: true},
			spec: fleetSpec{CDN: 2, Seed: map[string]*cloudsim.SeedCert{"c00001.bench.test": {CertName: "newer-by-hand", NotAfter: later}}},
			want: map[fanout.State]int{fanout.Deployed: 2},
		},
		{
			name: "canary stop", opts: fanout.Options{Canary: 3},
			spec: fleetSpec{CDN: 12, Offline: []string{"c00001.bench.test"}},
			want: map[fanout.State]int{fanout.Deployed: 2, fanout.Failed: 1, fanout.NotStarted: 9},
			check: func(t *testing.T, f *fleet, res []fanout.Result) {
				for _, r := range res[3:] {
					if !strings.Contains(r.Err.Error(), "canary") {
						t.Errorf("%s: %v", r.Call.DomainName, r.Err)
					}
				}
			},
		},
		{
			name: "canary passes", opts: fanout.Options{Canary: 3},
			spec: fleetSpec{CDN: 6}, want: map[fanout.State]int{fanout.Deployed: 6},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.spec.Quotas == nil {
				tt.spec.Quotas = quick()
			}
			f := tt.spec.build(t, false)
			opts := fastRetry(tt.opts)
			if strings.HasPrefix(tt.name, "deadline") {
				opts.StopAt = time.Now().Add(time.Second)
			}
			res := fanout.Run(context.Background(), f.client, f.plan, opts)
			if tt.want != nil {
				if got := countStates(res); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					for _, r := range res {
						if r.State != fanout.Deployed {
							t.Logf("%s: %s %v", r.Call.DomainName, r.State, r.Err)
						}
					}
					t.Fatalf("states %v, want %v", got, tt.want)
				}
			}
			if tt.check != nil {
				tt.check(t, f, res)
			}
			checkJournal(t, f.sim, res)
		})
	}
}

// TestIdempotentRerun: the second run of the same plan makes no Set call.
func TestIdempotentRerun(t *testing.T) {
	f := fleetSpec{CDN: 10, VOD: 3, Live: 3, Quotas: quick()}.build(t, false)
	first := fanout.Run(context.Background(), f.client, f.plan, fastRetry(fanout.Options{Verify: true}))
	if c := countStates(first); c[fanout.Deployed] != 16 {
		t.Fatalf("first run: %v", c)
	}
	sets := len(f.sim.Journal().Entries())
	second := fanout.Run(context.Background(), f.client, f.plan, fastRetry(fanout.Options{}))
	if c := countStates(second); c[fanout.Unchanged] != 16 {
		t.Fatalf("second run: %v", c)
	}
	for _, e := range f.sim.Journal().Entries()[sets:] {
		if strings.HasPrefix(e.API, "Set") {
			t.Errorf("the second run called %s for %s", e.API, e.Domain)
		}
	}
}
