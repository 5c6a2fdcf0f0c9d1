package fanout_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/all"
	"github.com/certdrop/certdrop/shared/product/cdn"
	"github.com/certdrop/certdrop/shared/product/live"
	"github.com/certdrop/certdrop/shared/product/vod"
)

// accountFleet is an emulated organisation: the function's own account
// and accounts-1 others reached through STS AssumeRole, each with cdn,
// vod and live domains of its own, and a plan deploying one certificate
// to all of them.
type accountFleet struct {
	client *product.Client
	plan   *plan.Plan
	// roles are the other accounts' role ARNs, by the manifest's name.
	roles map[string]string
	// perAccount is one account's Set calls, for its bound.
	perAccount []plan.Call
}

// accountID is the emulated ID of account k (0: the function's own).
func accountID(k int) string {
	if k == 0 {
		return cloudsim.DefaultAccountID
	}
	return fmt.Sprintf("2%015d", k)
}

// newAccountFleet starts the emulator (in a child process when child) with
// accounts accounts of cdn, vod and live domains each, at the production
// quotas with 100 ms median latency, and plans one certificate for all.
func newAccountFleet(tb testing.TB, accounts, cdns, vods, lives int, child bool) *accountFleet {
	tb.Helper()
	names := func(k int, prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("a%02d-%s%05d.bench.test", k, prefix, i)
		}
		return out
	}
	reg := func(ds []string) []cloudsim.Domain {
		out := make([]cloudsim.Domain, len(ds))
		for i, d := range ds {
			out[i] = cloudsim.Domain{Name: d}
		}
		return out
	}
	trust := []string{"acs:ram::" + cloudsim.DefaultAccountID + ":root"}
	spec := fleetSpec{Faults: cloudsim.Faults{Seed: 1, Latency: latency100ms}}
	own := cloudsim.Domains{CDN: reg(names(0, "c", cdns)), VOD: reg(names(0, "v", vods)), Live: reg(names(0, "l", lives))}
	for k := 1; k < accounts; k++ {
		spec.Accounts = append(spec.Accounts, cloudsim.AccountSettings{
			ID:      accountID(k),
			Roles:   []cloudsim.RoleSettings{{Name: "certdrop-deployer", Trust: trust}},
			Domains: cloudsim.Domains{CDN: reg(names(k, "c", cdns)), VOD: reg(names(k, "v", vods)), Live: reg(names(k, "l", lives))},
		})
	}
	spec.Domains = &own
	var simEnv []string
	if child {
		simEnv = spec.startChild(tb)
	} else {
		_, simEnv = startInProcess(tb, spec)
	}
	client := benchClient(tb, simEnv, nil)
	b := benchBundle(tb)
	f := &accountFleet{client: client, roles: map[string]string{}}
	m := &manifest.Manifest{}
	for k := range accounts {
		name := ""
		if k > 0 {
			name = fmt.Sprintf("account%02d", k)
			arn := "acs:ram::" + accountID(k) + ":role/certdrop-deployer"
			f.roles[name] = arn
			m.Accounts = append(m.Accounts, manifest.Account{Name: name, RoleArn: arn})
		}
		for _, g := range []struct {
			p  manifest.Product
			ds []string
		}{{cdn.Name, names(k, "c", cdns)}, {vod.Name, names(k, "v", vods)}, {live.Name, names(k, "l", lives)}} {
			for _, d := range g.ds {
				m.Targets = append(m.Targets, manifest.Target{Product: g.p, Domain: d, Account: name})
			}
		}
	}
	var err error
	if f.plan, err = plan.Build(b, m, "", all.Products()); err != nil {
		tb.Fatal(err)
	}
	f.perAccount = newPlanCalls(cdns, vods, lives)
	return f
}

// startInProcess starts the spec's emulator in this process.
func startInProcess(tb testing.TB, spec fleetSpec) (*cloudsim.Sim, []string) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	sim, env, err := spec.start(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = sim.Close() })
	return sim, env
}

// open opens the accounts of the fleet's plan: the function's own through
// its client, the others through their roles.
func (f *accountFleet) open() fanout.OpenAccount {
	return func(ctx context.Context, name string) (fanout.Client, fanout.CASClient, error) {
		if name == "" {
			return f.client, f.client, nil
		}
		c, err := f.client.AssumeRole(ctx, f.roles[name])
		if err != nil {
			return nil, nil, err
		}
		return c, c.(fanout.CASClient), nil
	}
}

// run deploys the plan across the accounts and reports how long it took
// against one account's bound.
func (f *accountFleet) run(b *testing.B) ([]fanout.Result, time.Duration) {
	b.Helper()
	start := time.Now()
	res, _ := fanout.RunAccounts(context.Background(), f.open(), f.plan, fanout.Options{})
	elapsed := time.Since(start)
	for _, r := range res {
		if r.State != fanout.Deployed {
			b.Fatalf("%s (%s): %s %v", r.Call, r.Call.Target.Account, r.State, r.Err)
		}
	}
	bound := plan.LowerBound(f.perAccount)
	b.ReportMetric(float64(len(res)), "deployed")
	b.ReportMetric(elapsed.Seconds(), "s/run")
	b.ReportMetric(bound.Seconds(), "s-account-bound")
	b.ReportMetric(elapsed.Seconds()/bound.Seconds(), "x-account-bound")
	return res, elapsed
}

// BenchmarkFleetAccounts3x300 deploys 300 CDN targets in each of three
// accounts (the function's own and two through STS AssumeRole) at the
// production quotas with 100 ms median latency. Every account has its own
// quotas, so the run's bound is one account's, 300 ÷ 30 = 10 s, not three
// times that; the target is 1.10 × it.
func BenchmarkFleetAccounts3x300(b *testing.B) {
	for range b.N {
		b.StopTimer()
		f := newAccountFleet(b, 3, 300, 0, 0, false)
		b.StartTimer()
		_, elapsed := f.run(b)
		fmt.Fprintf(os.Stderr, "%s: 900 targets in 3 accounts in %.2f s: %.3f × one account's bound (10 s)\n",
			b.Name(), elapsed.Seconds(), elapsed.Seconds()/10)
	}
}

// BenchmarkFleetAccounts10x1000 deploys 1,000 targets (600 CDN, 200 VOD,
// 200 Live) in each of ten accounts (the function's own and nine through
// STS AssumeRole), 10,000 in
// all, at the production quotas with 100 ms median latency, the emulator
// in a child process: the run's bound is the busiest account's, 600 ÷ 30
// = 20 s (target 1.10 × it), and the peak memory in use is within the
// 64 MiB docs/benchmarks.md states for 10,000 targets.
func BenchmarkFleetAccounts10x1000(b *testing.B) {
	for range b.N {
		b.StopTimer()
		f := newAccountFleet(b, 10, 600, 200, 200, true)
		stopWatch := watchMemory()
		b.StartTimer()
		_, elapsed := f.run(b)
		b.StopTimer()
		peak, before := stopWatch()
		b.ReportMetric(peak, "MiB-peak-in-use")
		b.ReportMetric(before, "MiB-before")
		fmt.Fprintf(os.Stderr, "%s: 10,000 targets in 10 accounts in %.2f s: %.3f × the busiest account's bound (20 s); %.1f MiB peak in use (%.1f MiB before)\n",
			b.Name(), elapsed.Seconds(), elapsed.Seconds()/20, peak, before)
	}
}
