package fanout_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
)

// setEntries returns the emulator's Set calls of one action, in order.
func setEntries(sim *cloudsim.Sim, action string) []cloudsim.Entry {
	var out []cloudsim.Entry
	for _, e := range sim.Journal().Entries() {
		if e.API == action {
			out = append(out, e)
		}
	}
	return out
}

// TestThrottledInARowDoesNotTrail: a target throttled four times in a row
// (each answer asking for 500 ms) is retried as soon as its hint allows,
// ahead of the targets not yet started, so it ends while the run is still
// starting fresh targets instead of trailing after them. The assertion is
// on the order of the emulator's journal, not on wall-clock time: before,
// each retry queued behind every other worker's pacer reservation (about
// two seconds at 100 calls/s) and the target ended last, seconds after the
// rest.
func TestThrottledInARowDoesNotTrail(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-second run")
	}
	const action = "SetCdnDomainSSLCertificate"
	q := quick()
	q[action] = 100
	spec := fleetSpec{CDN: 300, Quotas: q, Mutate: func(c *cloudsim.Config) {
		c.Faults.Scripted = append(c.Faults.Scripted, cloudsim.Script{
			Domain: "c00000.bench.test", API: action, Code: "Throttling.User", Times: 4})
	}}
	f := spec.build(t, false)
	res := fanout.Run(context.Background(), f.client, f.plan, fanout.Options{Quotas: q})
	if c := countStates(res); c[fanout.Deployed] != 300 {
		t.Fatalf("states %v", c)
	}
	if r := res[0]; r.Attempts != 5 || r.Throttled != 4 {
		t.Fatalf("the throttled target: %d attempts, %d throttled; want 5 and 4", r.Attempts, r.Throttled)
	}
	sets := setEntries(f.sim, action)
	last := -1
	for i, e := range sets {
		if e.Domain == "c00000.bench.test" && e.Outcome == "ok" {
			last = i
		}
	}
	firstAfter := 0
	for _, e := range sets[last+1:] {
		if e.Attempt == 1 {
			firstAfter++
		}
	}
	run := sets[len(sets)-1].Time.Sub(sets[0].Time)
	done := sets[last].Time.Sub(sets[0].Time)
	t.Logf("the throttled target ended %v into a %v run of %d Set calls; %d targets started after it", done, run, len(sets), firstAfter)
	// Ideal: done ≈ 4 × 0.5 s = 2 s into a ≈ 3.1 s run, ≈ 100 first calls after it.
	if firstAfter < 40 {
		t.Errorf("only %d targets were started after the throttled one ended: it trailed the run", firstAfter)
	}
	checkJournal(t, f.sim, res)
}

// TestSharedQuotaConverges: a second caller takes half of the Set quota
// for the whole run. The run still deploys everything, the pace backs off
// (AIMD) rather than storming, and certdrop never sends more Set calls in
// a second than its pacer allows.
func TestSharedQuotaConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("a 5-second run")
	}
	const action = "SetCdnDomainSSLCertificate"
	const quota = 40.0
	q := quick()
	q[action] = quota
	f := fleetSpec{CDN: 100, Quotas: q}.build(t, false)

	// The other caller: 20 calls/s on a domain of its own, for as long as
	// certdrop runs.
	ctx, stop := context.WithCancel(context.Background())
	other := f.plan.Calls[0]
	other.DomainName = "other.bench.test"
	other.Params = append([]plan.Param(nil), other.Params...)
	for i := range other.Params {
		if other.Params[i].Name == "DomainName" {
			other.Params[i].Value = other.DomainName
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second / 20)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				wg.Go(func() { _ = f.client.Set(ctx, other, product.Once{}) })
			}
		}
	})
	time.Sleep(time.Second) // the other caller is there first
	res := fanout.Run(context.Background(), f.client, f.plan, fanout.Options{Quotas: q})
	stop()
	wg.Wait()

	if c := countStates(res); c[fanout.Deployed] != 100 {
		t.Fatalf("states %v", c)
	}
	var ours []cloudsim.Entry
	throttled := 0
	for _, e := range setEntries(f.sim, action) {
		if e.Domain != other.DomainName {
			ours = append(ours, e)
			if e.Code == "Throttling.User" {
				throttled++
			}
		}
	}
	t.Logf("%d Set calls for 100 targets, %d throttled", len(ours), throttled)
	// Half the quota is left: converging means most calls get through, not
	// a storm of retries. AIMD tolerates up to half of a window throttled.
	if len(ours) > 220 {
		t.Errorf("%d Set calls for 100 targets: a storm", len(ours))
	}
	// Never more calls than the pacer allows: at most the quota (at its
	// 97%) per second in any two-second window, plus the token the bucket
	// holds, plus three for the jitter between a call's token and the
	// emulator's arrival stamp on a busy machine.
	const window = 2 * time.Second
	for i := range ours {
		n := 0
		for j := i; j < len(ours) && ours[j].Time.Sub(ours[i].Time) < window; j++ {
			n++
		}
		if float64(n) > quota*0.97*window.Seconds()+4 {
			t.Fatalf("%d Set calls within %v from %v: more than the pacer allows", n, window, ours[i].Time)
		}
	}
}

// TestRefusedCertificateOnTheFirstCall: the emulator refuses the
// certificate as too long; each API's first Set call is the only one
// sent, and every target fails with that same answer.
func TestRefusedCertificateOnTheFirstCall(t *testing.T) {
	f := fleetSpec{CDN: 20, VOD: 5, Live: 5, Quotas: quick(), Mutate: func(c *cloudsim.Config) {
		c.MaxCertificateBytes = 64
	}}.build(t, false)
	res := fanout.Run(context.Background(), f.client, f.plan, fastRetry(fanout.Options{}))
	for _, r := range res {
		var ce *cloud.Error
		if r.State != fanout.Failed || !errors.As(r.Err, &ce) || ce.Code != "InvalidCertificate.TooLong" || ce.Hint == "" {
			t.Errorf("%s: %s %v, want failed InvalidCertificate.TooLong", r.Call.DomainName, r.State, r.Err)
		}
	}
	for _, action := range []string{"SetCdnDomainSSLCertificate", "SetVodDomainSSLCertificate", "SetLiveDomainCertificate"} {
		if n := len(setEntries(f.sim, action)); n != 1 {
			t.Errorf("%s: %d calls, want 1", action, n)
		}
	}
	checkJournal(t, f.sim, res)
}

// TestMissingPermissionFailsOneAPI: without the RAM permission for one
// Set action, that API's targets fail after one call and the others
// deploy; only refused credentials stop the run.
func TestMissingPermissionFailsOneAPI(t *testing.T) {
	f := fleetSpec{CDN: 10, VOD: 5, Quotas: quick(), Mutate: func(c *cloudsim.Config) {
		c.Credentials[0].DenyActions = []string{"SetVodDomainSSLCertificate"}
	}}.build(t, false)
	res := fanout.Run(context.Background(), f.client, f.plan, fastRetry(fanout.Options{}))
	for _, r := range res {
		var ce *cloud.Error
		switch r.Call.Target.Product {
		case "vod":
			if r.State != fanout.Failed || !errors.As(r.Err, &ce) || ce.Code != "Forbidden.RAM" {
				t.Errorf("%s: %s %v, want failed Forbidden.RAM", r.Call.DomainName, r.State, r.Err)
			}
		default:
			if r.State != fanout.Deployed {
				t.Errorf("%s: %s %v, want deployed", r.Call.DomainName, r.State, r.Err)
			}
		}
	}
	if n := len(setEntries(f.sim, "SetVodDomainSSLCertificate")); n != 1 {
		t.Errorf("%d VOD Set calls, want 1", n)
	}
	checkJournal(t, f.sim, res)
}

// TestRefusedCredentialsStopTheRun: a disabled AccessKey is refused
// credentials, not a missing permission: the run stops.
func TestRefusedCredentialsStopTheRun(t *testing.T) {
	f := fleetSpec{CDN: 10, VOD: 5, Quotas: quick(), Mutate: func(c *cloudsim.Config) {
		c.Credentials[0].Disabled = true
	}}.build(t, false)
	res := fanout.Run(context.Background(), f.client, f.plan, fastRetry(fanout.Options{}))
	c := countStates(res)
	if c[fanout.Failed]+c[fanout.NotStarted] != 15 {
		t.Fatalf("states %v: want every target failed or not started", c)
	}
	for _, r := range res {
		var ce *cloud.Error
		if r.State == fanout.Failed && (!errors.As(r.Err, &ce) || ce.Class() != failure.Auth) ||
			r.State == fanout.NotStarted && !strings.Contains(r.Err.Error(), "credentials were refused") {
			t.Errorf("%s: %s %v", r.Call.DomainName, r.State, r.Err)
		}
	}
	for _, e := range f.sim.Journal().Entries() {
		if strings.HasPrefix(e.API, "Set") {
			t.Errorf("a Set call was sent with refused credentials: %s %s", e.API, e.Domain)
		}
	}
}

// TestNewerIsIssuedLater: against the emulator's Describe answers, a
// domain carrying a one-year certificate issued before this one gets the
// new one; a domain carrying one issued after it is skipped and says why.
func TestNewerIsIssuedLater(t *testing.T) {
	now := time.Now()
	root, err := cloudsim.NewRootCA("seed root", now.AddDate(-1, 0, 0), now.AddDate(2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	seed := func(name string, nb, na time.Time) *cloudsim.SeedCert {
		c, err := root.Issue(cloudsim.LeafRequest{DNSNames: []string{"*.bench.test"}, NotBefore: nb, NotAfter: na})
		if err != nil {
			t.Fatal(err)
		}
		return &cloudsim.SeedCert{CertName: name, Cert: string(c.CertPEM)}
	}
	f := fleetSpec{CDN: 3, Quotas: quick(), Seed: map[string]*cloudsim.SeedCert{
		// The bench certificate is issued an hour ago and lasts 3 months.
		"c00000.bench.test": seed("commercial-1y", now.AddDate(0, -1, 0), now.AddDate(0, 11, 0)),
		"c00001.bench.test": seed("issued-later", now.Add(-10*time.Minute), now.AddDate(0, 2, 0)),
	}}.build(t, false)
	res := fanout.Run(context.Background(), f.client, f.plan, fastRetry(fanout.Options{}))
	want := []fanout.State{fanout.Deployed, fanout.SkippedNewer, fanout.Deployed}
	for i, r := range res {
		if r.State != want[i] {
			t.Errorf("%s: %s (%s), want %s", r.Call.DomainName, r.State, r.Note, want[i])
		}
	}
	if n := res[1].Note; !strings.Contains(n, "issued-later") || !strings.Contains(n, "replace: always") {
		t.Errorf("the skipped target's note: %q", n)
	}
	checkJournal(t, f.sim, res)
}

// panicky is a client whose Set panics for one domain.
type panicky struct {
	fanout.Client
	domain string
}

func (p panicky) Set(ctx context.Context, c plan.Call, calls fanout.Caller) error {
	if c.DomainName == p.domain {
		var m map[string]int
		m["boom"]++ // a nil map write: a runtime panic
	}
	return p.Client.Set(ctx, c, calls)
}

// TestPanickingClient: a panic in a fan-out worker fails its target; the
// process lives and every other target deploys.
func TestPanickingClient(t *testing.T) {
	f := fleetSpec{CDN: 6, Quotas: quick()}.build(t, false)
	res := fanout.Run(context.Background(), panicky{f.client, "c00002.bench.test"}, f.plan, fastRetry(fanout.Options{}))
	for i, r := range res {
		want := fanout.Deployed
		if i == 2 {
			want = fanout.Failed
		}
		if r.State != want {
			t.Errorf("%s: %s %v, want %s", r.Call.DomainName, r.State, r.Err, want)
		}
	}
	if res[2].Err == nil || !strings.Contains(res[2].Err.Error(), "panic") {
		t.Errorf("the panicking target's error: %v", res[2].Err)
	}
}
