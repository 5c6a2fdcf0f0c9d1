package fanout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/all"
	"github.com/certdrop/certdrop/shared/product/cdn"
	"github.com/certdrop/certdrop/shared/product/live"
	"github.com/certdrop/certdrop/shared/product/vod"
)

// fleet is an emulated account with n CDN, VOD and Live domains under
// bench.test, a plan deploying one certificate to all of them, and a
// client of the emulator.
type fleet struct {
	sim    *cloudsim.Sim
	client *product.Client
	plan   *plan.Plan
}

// fleetSpec is an emulated account: how many domains of each product, the
// faults and the quotas. It travels as JSON to a child process.
type fleetSpec struct {
	CDN, VOD, Live int
	Faults         cloudsim.Faults
	Quotas         map[string]float64
	// Accounts are the emulator's other accounts, and Domains, when set,
	// its own account's domains in place of CDN, VOD and Live's
	// (bench_accounts_test.go).
	Accounts []cloudsim.AccountSettings `json:",omitempty"`
	Domains  *cloudsim.Domains          `json:",omitempty"`
	// Seed installs a certificate on domains before the run.
	Seed map[string]*cloudsim.SeedCert `json:"-"`
	// Offline lists domains the emulator has offline.
	Offline []string `json:"-"`
	// Mutate changes the emulator's configuration; Client the client's.
	Mutate func(*cloudsim.Config) `json:"-"`
	Client func(*cloud.Options)   `json:"-"`
}

func (fs fleetSpec) names() (cdn, vod, live []string) {
	names := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%05d.bench.test", prefix, i)
		}
		return out
	}
	return names("c", fs.CDN), names("v", fs.VOD), names("l", fs.Live)
}

// config is the emulator's configuration for the spec.
func (fs fleetSpec) config() cloudsim.Config {
	reg := func(ds []string) []cloudsim.Domain {
		out := make([]cloudsim.Domain, len(ds))
		for i, d := range ds {
			out[i] = cloudsim.Domain{Name: d, Installed: fs.Seed[d]}
			if slices.Contains(fs.Offline, d) {
				out[i].State = "offline"
			}
		}
		return out
	}
	cdn, vod, live := fs.names()
	cfg := cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: "benchAK", AccessKeySecret: "benchSK"}},
		Domains:     cloudsim.Domains{CDN: reg(cdn), VOD: reg(vod), Live: reg(live)},
		Faults:      fs.Faults,
		Quotas:      fs.Quotas,
		Accounts:    fs.Accounts,
		OSS:         cloudsim.OSSSettings{Disabled: true},
	}
	if fs.Domains != nil {
		cfg.Domains = *fs.Domains
	}
	if fs.Mutate != nil {
		fs.Mutate(&cfg)
	}
	return cfg
}

// start runs the emulator for the spec in a child process (TestMain) and
// returns its environment; it serves until ctx ends.
func (fs fleetSpec) start(ctx context.Context) (*cloudsim.Sim, []string, error) {
	sim, err := cloudsim.New(fs.config())
	if err != nil {
		return nil, nil, err
	}
	if err := sim.Start(ctx); err != nil {
		return nil, nil, err
	}
	return sim, sim.Env(), nil
}

// childEnv names the variable that makes the test binary an emulator: the
// file holding its fleetSpec.
const childEnv = "CERTDROP_BENCH_SIM"

// TestMain lets a benchmark run the emulator in a child process (this
// binary again), so that the memory it measures is certdrop's alone.
func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		var fs fleetSpec
		spec, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(spec, &fs)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		_, env, err := fs.start(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		_ = json.NewEncoder(os.Stdout).Encode(env)
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startChild runs the emulator in a child process and returns its
// environment; the child ends with the benchmark.
func (fs fleetSpec) startChild(tb testing.TB) []string {
	tb.Helper()
	// The spec travels in a file: ten thousand domains do not fit in an
	// environment variable.
	spec, _ := json.Marshal(fs)
	path := filepath.Join(tb.TempDir(), "spec.json")
	if err := os.WriteFile(path, spec, 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	var env []string
	if err := json.NewDecoder(stdout).Decode(&env); err != nil {
		tb.Fatalf("the emulator child: %v", err)
	}
	return env
}

// benchClient is a client of every product pointed at the emulator whose
// environment is simEnv, tuned by tune when not nil.
func benchClient(tb testing.TB, simEnv []string, tune func(*cloud.Options)) *product.Client {
	tb.Helper()
	env := map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "benchSK"}
	for _, kv := range simEnv {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	copts := cloud.Options{Getenv: func(k string) string { return env[k] }}
	if tune != nil {
		tune(&copts)
	}
	client, err := all.Products().NewClient(copts)
	if err != nil {
		tb.Fatal(err)
	}
	return client
}

// benchBundle is a bundle for *.bench.test, valid for three months, with
// a 2048-bit RSA key.
func benchBundle(tb testing.TB) *bundle.Bundle {
	tb.Helper()
	now := time.Now()
	root, err := cloudsim.NewRootCA("bench root", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := root.Issue(cloudsim.LeafRequest{DNSNames: []string{"*.bench.test"}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 3, 0), RSABits: 2048})
	if err != nil {
		tb.Fatal(err)
	}
	b, err := bundle.Parse([]bundle.Source{{Name: "bench.pem", Data: append(leaf.CertPEM, leaf.KeyPEM...)}}, bundle.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func newFleet(tb testing.TB, cdn, vod, live int, faults cloudsim.Faults, quotas map[string]float64) *fleet {
	return fleetSpec{CDN: cdn, VOD: vod, Live: live, Faults: faults, Quotas: quotas}.build(tb, false)
}

// build starts the emulator (in this process, or in a child) and plans a
// certificate for every domain.
func (fs fleetSpec) build(tb testing.TB, child bool) *fleet {
	tb.Helper()
	f := &fleet{}
	var simEnv []string
	if child {
		simEnv = fs.startChild(tb)
	} else {
		f.sim = cloudsimtest.Start(tb, fs.config())
		simEnv = f.sim.Env()
	}
	cdnNames, vodNames, liveNames := fs.names()
	client := benchClient(tb, simEnv, fs.Client)
	b := benchBundle(tb)
	m := &manifest.Manifest{}
	for _, g := range []struct {
		p  manifest.Product
		ds []string
	}{{cdn.Name, cdnNames}, {vod.Name, vodNames}, {live.Name, liveNames}} {
		for _, d := range g.ds {
			m.Targets = append(m.Targets, manifest.Target{Product: g.p, Domain: d})
		}
	}
	p, err := plan.Build(b, m, "", all.Products())
	if err != nil {
		tb.Fatal(err)
	}
	f.client, f.plan = client, p
	return f
}

// run deploys the fleet's plan and reports the figures docs/benchmarks.md
// gives.
func (f *fleet) run(b *testing.B, opts fanout.Options) []fanout.Result {
	res, _ := f.timedRun(b, opts)
	return res
}

// timedRun is run, also returning how long the run took.
func (f *fleet) timedRun(b *testing.B, opts fanout.Options) ([]fanout.Result, time.Duration) {
	b.Helper()
	start := time.Now()
	res := fanout.Run(context.Background(), f.client, f.plan, opts)
	elapsed := time.Since(start)
	counts := map[fanout.State]int{}
	attempts, throttled := 0, 0
	for _, r := range res {
		counts[r.State]++
		attempts += r.Attempts
		throttled += r.Throttled
	}
	sets, describes := 0, 0
	var lastSet time.Time
	for _, e := range f.sim.Journal().Entries() {
		if strings.HasPrefix(e.API, "Set") {
			sets++
			if e.Time.After(lastSet) {
				lastSet = e.Time
			}
		}
		if strings.HasPrefix(e.API, "Describe") {
			describes++
		}
	}
	if os.Getenv("BENCH_DEBUG") != "" {
		perSec := map[int]int{}
		thrSec := map[int]int{}
		for _, e := range f.sim.Journal().Entries() {
			if e.API == "SetCdnDomainSSLCertificate" {
				sec := int(e.Time.Sub(start).Seconds())
				perSec[sec]++
				if e.Outcome != "ok" {
					thrSec[sec]++
				}
			}
		}
		for i := 0; i <= int(elapsed.Seconds()); i++ {
			fmt.Fprintf(os.Stderr, "%d:%d/%d ", i, perSec[i], thrSec[i])
		}
		fmt.Fprintln(os.Stderr)
	}
	b.ReportMetric(float64(sets), "set-calls")
	b.ReportMetric(float64(describes), "describe-calls")
	bound := f.plan.LowerBound()
	b.ReportMetric(elapsed.Seconds(), "s/run")
	b.ReportMetric(bound.Seconds(), "s-lower-bound")
	b.ReportMetric(elapsed.Seconds()/bound.Seconds(), "x-lower-bound")
	b.ReportMetric(float64(counts[fanout.Deployed]), "deployed")
	b.ReportMetric(float64(len(res)-counts[fanout.Deployed]), "not-deployed")
	b.ReportMetric(float64(throttled), "throttled")
	if sets != attempts {
		b.Errorf("the emulator saw %d Set calls, the report counts %d attempts", sets, attempts)
	}
	return res, elapsed
}

var latency100ms = cloudsim.Latency{Median: 100 * time.Millisecond, P99: 400 * time.Millisecond}

// BenchmarkFleet1000 deploys 600 CDN, 200 VOD and 200 Live domains at the
// production quotas with 100 ms median latency. The lower bound is
// 600 ÷ 30 = 20 s; the target is 1.10 × that.
func BenchmarkFleet1000(b *testing.B) {
	for range b.N {
		b.StopTimer()
		f := newFleet(b, 600, 200, 200, cloudsim.Faults{Seed: 1, Latency: latency100ms}, nil)
		b.StartTimer()
		res := f.run(b, fanout.Options{})
		for _, r := range res {
			if r.State != fanout.Deployed {
				b.Fatalf("%s: %s %v", r.Call, r.State, r.Err)
			}
		}
	}
}

// Faults of the fleet benchmarks: 30% of calls throttled and 2% answered
// 5xx, each seeded differently per run.
const (
	benchThrottle = 0.30
	benchErrors   = 0.02
)

// BenchmarkFleet1000Faults is BenchmarkFleet1000 with 30% of calls
// throttled and 2% answered 5xx: every target must end deployed within
// 1.10 × the fault-adjusted floor (600 ÷ (30 × 0.68) ≈ 29.4 s), in every
// run. It runs BENCH_RUNS times (3 by default), each with its own fault
// seed, and reports the worst.
func BenchmarkFleet1000Faults(b *testing.B) { benchFaults(b, 600, 200, 200) }

// BenchmarkFleet300Faults is the same with 300 CDN targets, where a retry
// tail weighs most: the floor is 300 ÷ (30 × 0.68) ≈ 14.7 s.
func BenchmarkFleet300Faults(b *testing.B) { benchFaults(b, 300, 0, 0) }

// benchFaults runs a fleet under faults, once with throttling answers that
// carry no retry-after hint (hint=none: as the service sometimes answers) and
// once with the emulator's default 500 ms TimeLeft (hint=500ms), each
// BENCH_RUNS times with its own fault seed. It reports the worst run as a
// ratio to the fault-adjusted floor (x-floor-worst), and as a ratio to
// the run's own floor, its Set calls at the quota (x-own-floor-worst):
// the number of throttled answers varies from seed to seed (±3% at 300
// targets), the second ratio shows what the scheduling adds to it. With
// hints, the run's own floor grows by the hint tail (hintTail), and the
// worst run against that floor is x-own-hint-floor-worst.
func benchFaults(b *testing.B, cdn, vod, live int) {
	runs := 3
	if v, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	for _, hint := range []struct {
		name string
		left time.Duration
	}{{"none", -1}, {"500ms", 500 * time.Millisecond}} {
		b.Run("hint="+hint.name, func(b *testing.B) {
			worst, worstOwn, worstHint := 0.0, 0.0, 0.0
			for range b.N {
				for k := range runs {
					b.StopTimer()
					faults := cloudsim.Faults{Seed: uint64(2 + k), Latency: latency100ms, ThrottleRate: benchThrottle,
						ErrorRate: benchErrors, ThrottleTimeLeft: hint.left}
					f := newFleet(b, cdn, vod, live, faults, nil)
					b.StartTimer()
					res, elapsed := f.timedRun(b, benchOpts())
					for _, r := range res {
						if r.State != fanout.Deployed {
							b.Fatalf("%s: %s %v", r.Call, r.State, r.Err)
						}
					}
					floor := faultAdjustedBound(f.plan.Calls, benchThrottle+benchErrors)
					own := ownFloor(f.sim)
					ratio, ratioOwn := elapsed.Seconds()/floor.Seconds(), elapsed.Seconds()/own.Seconds()
					worst, worstOwn = max(worst, ratio), max(worstOwn, ratioOwn)
					withHints := ""
					if hint.left > 0 {
						tail := hintTail(hint.left, latency100ms.Median, cdnQuota, benchThrottle)
						ratioHint := elapsed.Seconds() / (own + tail).Seconds()
						worstHint = max(worstHint, ratioHint)
						withHints = fmt.Sprintf(", %.3f × the run's own with the hint tail (%.2f s + %.2f s)", ratioHint, own.Seconds(), tail.Seconds())
					}
					fmt.Fprintf(os.Stderr, "%s run %d of %d (seed %d): %d targets in %.2f s: %.3f × the fault-adjusted floor (%.2f s), %.3f × the run's own (%.2f s)%s\n",
						b.Name(), k+1, runs, faults.Seed, len(res), elapsed.Seconds(), ratio, floor.Seconds(), ratioOwn, own.Seconds(), withHints)
				}
			}
			b.ReportMetric(faultAdjustedBound(newPlanCalls(cdn, vod, live), benchThrottle+benchErrors).Seconds(), "s-fault-floor")
			b.ReportMetric(worst, "x-floor-worst")
			b.ReportMetric(worstOwn, "x-own-floor-worst")
			if hint.left > 0 {
				b.ReportMetric(worstHint, "x-own-hint-floor-worst")
			}
			b.ReportMetric(float64(runs), "runs")
		})
	}
}

// cdnQuota is the CDN Set API's documented quota, the pace of the fault
// benchmarks' busiest API.
const cdnQuota = 30

// hintTail is how much later than its own floor a run whose throttling
// answers carry the retry-after hint h ends, at the least. The retry of
// the last throttled call is not sent before h has passed and is answered
// a latency l later; the calls sent after that throttled call number j,
// with P(j = k) = p(1 − p)^k when each call is throttled independently
// with probability p, and at the pace r they take (j + 1) ÷ r. The run
// therefore ends E[(h + l − (j + 1) ÷ r)⁺] after the pace's floor.
func hintTail(h, l time.Duration, r, p float64) time.Duration {
	var e float64
	for k := 0; ; k++ {
		left := (h + l).Seconds() - float64(k+1)/r
		if left <= 0 {
			break
		}
		e += p * math.Pow(1-p, float64(k)) * left
	}
	return time.Duration(e * float64(time.Second))
}

// ownFloor is the shortest time the Set calls the run needed could take
// at the documented quotas: the largest, over the Set APIs, of calls ÷
// quota. The faults are decided per domain and attempt, so a seed fixes
// how many calls every target needs whatever the scheduling; calls the
// quota itself refused (no attempt number) are the scheduling's doing and
// are left out.
func ownFloor(sim *cloudsim.Sim) time.Duration {
	n := map[string]int{}
	for _, e := range sim.Journal().Entries() {
		if strings.HasPrefix(e.API, "Set") && e.Attempt > 0 {
			n[e.API]++
		}
	}
	quotas := cloudsim.DefaultQuotas()
	var worst float64
	for a, c := range n {
		worst = max(worst, float64(c)/quotas[a])
	}
	return time.Duration(worst * float64(time.Second))
}

// newPlanCalls is a fleet's Set calls, for its bound, without an emulator.
func newPlanCalls(cdns, vods, lives int) []plan.Call {
	var calls []plan.Call
	for _, g := range []struct {
		api plan.API
		n   int
	}{{cdn.SetAPI, cdns}, {vod.SetAPI, vods}, {live.SetAPI, lives}} {
		for range g.n {
			calls = append(calls, plan.Call{API: g.api})
		}
	}
	return calls
}

// BenchmarkFleet10000Memory deploys 10,000 targets and reports the peak
// memory in use during the run: plan, fan-out, clients and results. The
// emulator runs in a child process, so its memory does not count. Quotas
// are raised so the run takes seconds, not the 5.5 minutes 30 calls/s
// would: memory depends on the number of targets and calls in flight.
func BenchmarkFleet10000Memory(b *testing.B) {
	fast := map[string]float64{}
	for a := range cloudsim.DefaultQuotas() {
		fast[a] = 3000
	}
	for range b.N {
		b.StopTimer()
		spec := fleetSpec{CDN: 6000, VOD: 2000, Live: 2000, Quotas: fast,
			Faults: cloudsim.Faults{Seed: 3, Latency: cloudsim.Latency{Median: 5 * time.Millisecond, P99: 20 * time.Millisecond}}}
		f := spec.build(b, true)
		stopWatch := watchMemory()
		b.StartTimer()
		// 3000 calls/s × 20 ms = 60 calls in flight per API: what production
		// runs with (30 calls/s × the default 2 s p99).
		res := fanout.Run(context.Background(), f.client, f.plan, fanout.Options{Quotas: fast, LatencyP99: 20 * time.Millisecond})
		b.StopTimer()
		peak, before := stopWatch()
		deployed := 0
		for _, r := range res {
			if r.State == fanout.Deployed {
				deployed++
			}
		}
		b.ReportMetric(float64(deployed), "deployed")
		b.ReportMetric(peak, "MiB-peak-in-use")
		b.ReportMetric(before, "MiB-before")
	}
}

// watchMemory collects garbage, notes the memory in use (heap and
// stacks) and samples it every 5 ms until the returned stop is called;
// stop returns the peak and the starting figure, in MiB.
func watchMemory() (stop func() (peakMiB, beforeMiB float64)) {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	before := base.HeapInuse + base.StackInuse
	peak := before
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse+ms.StackInuse)
			}
		}
	})
	return func() (float64, float64) {
		close(done)
		wg.Wait()
		return float64(peak) / (1 << 20), float64(before) / (1 << 20)
	}
}

func benchOpts() fanout.Options {
	var o fanout.Options
	if v := os.Getenv("BENCH_P99"); v != "" {
		o.LatencyP99, _ = time.ParseDuration(v)
	}
	return o
}

func TestHintTail(t *testing.T) {
	// 0.6 s less the expected (j + 1) ÷ 30 over the calls sent after the
	// last throttled one, as docs/benchmarks.md derives it.
	got := hintTail(500*time.Millisecond, 100*time.Millisecond, 30, 0.3)
	if got < 480*time.Millisecond || got > 500*time.Millisecond {
		t.Errorf("hintTail = %v, want about 0.49 s", got)
	}
	if got := hintTail(0, 0, 30, 0.3); got != 0 {
		t.Errorf("without a hint or latency the tail is %v, want 0", got)
	}
}
