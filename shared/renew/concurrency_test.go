package renew_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/renew"
)

func TestParseConcurrency(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"", 0, false},
		{" ", 0, false},
		{"1", 1, false},
		{"25", 25, false},
		{" 100 ", 100, false},
		{"0", 0, true},
		{"-3", 0, true},
		{"101", 0, true},
		{"2.5", 0, true},
		{"many", 0, true},
	} {
		got, err := renew.ParseConcurrency(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseConcurrency(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), renew.EnvConcurrency) {
			t.Errorf("ParseConcurrency(%q): the error does not name the variable: %v", tc.in, err)
		}
	}
}

// waitOverlap is the largest number of challenge records in zone that
// waited to become visible at the same time, from the emulator's journal: a record
// added through the API at t is served from t+delay (the zone's
// propagation), so its wait is [t, t+delay). The preflight's records,
// which nothing waits for, are left out.
func waitOverlap(h *harness, zone string, delay time.Duration) int {
	type edge struct {
		at time.Time
		d  int
	}
	var edges []edge
	for _, e := range h.sim.Journal().Entries() {
		if e.Service == "alidns" && e.API == "AddDomainRecord" && e.Outcome == "ok" && e.Domain == zone && !strings.HasPrefix(e.Value, "certdrop-preflight-") {
			edges = append(edges, edge{e.Time, +1}, edge{e.Time.Add(delay), -1})
		}
	}
	// An end sorts before a start at the same instant: [t, t+delay) is
	// half-open.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.d - b.d
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.d
		most = max(most, n)
	}
	return most
}

// TestRenewalWaitsOverlap: certificates due at once wait for their
// records together, up to the concurrency and no further. Every record
// takes 1 s to appear at the authoritative server; the overlap is read
// from the emulator's journal, not from the clock, so that a loaded
// machine cannot fail it.
func TestRenewalWaitsOverlap(t *testing.T) {
	const delay = time.Second
	for _, tc := range []struct {
		name            string
		certs           int
		concurrency     int // 0: the default
		atLeast, atMost int
	}{
		// 20 certificates' 60 writes (the preflight's two each, then the
		// challenge's) take about 1 s at the alidns pace, so not all 20
		// waits need overlap; with the engine ordering two at a time they
		// would be at most 2.
		{name: "default", certs: 20, atLeast: 10, atMost: 20},
		{name: "bounded", certs: 9, concurrency: 3, atLeast: 2, atMost: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{zones: []cloudsim.ZoneSettings{{Name: "example.test", Propagation: delay}}})
			e := h.engine(func(o *renew.Options) {
				o.Concurrency = tc.concurrency
				o.PropagationTimeout = 30 * time.Second
			})
			var certs []manifest.Certificate
			for i := range tc.certs {
				certs = append(certs, h.cert(fmt.Sprintf("c%02d", i), fmt.Sprintf("c%02d.example.test", i)))
			}
			start := time.Now()
			res := h.run(h.ctx, e, certs, renew.RunOptions{})
			took := time.Since(start)
			for i, r := range res {
				if !r.Renewed || r.Name != certs[i].Name {
					t.Errorf("%s: %+v", certs[i].Name, r)
				}
			}
			got := waitOverlap(h, "example.test", delay)
			t.Logf("%d certificates, records visible after %v: %d waits at once at most, %v in all", tc.certs, delay, got, took.Round(10*time.Millisecond))
			if got < tc.atLeast || got > tc.atMost {
				t.Errorf("at most %d propagation waits at once; want %d to %d", got, tc.atLeast, tc.atMost)
			}
		})
	}
}

// selfSigned is a bundle (leaf and key) for names, valid from notBefore to
// notAfter.
func selfSigned(t *testing.T, notBefore, notAfter time.Time, names ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})...)
}

// TestDeadlineRenewsMostUrgentFirst: a run whose deadline leaves time for
// fewer orders than are due orders the most urgent (no certificate, then
// expired, then the nearest expiry), whatever the manifest's order, and
// reports the others not started, saying why, for the next run. Every
// record takes 5 s to appear, and no order may start with less than
// MinOrderTime (deadline − 4 s) left: the orders started at once finish
// too late for another to start.
func TestDeadlineRenewsMostUrgentFirst(t *testing.T) {
	const delay = 5 * time.Second
	for _, tc := range []struct {
		concurrency int
		renewed     []string
	}{
		{1, []string{"none"}},
		{3, []string{"none", "expired", "soon"}},
	} {
		t.Run(fmt.Sprintf("concurrency=%d", tc.concurrency), func(t *testing.T) {
			h := newHarness(t, harnessOpts{zones: []cloudsim.ZoneSettings{{Name: "example.test", Propagation: delay}}})
			now := time.Now()
			// The manifest lists them least urgent first. The two that have
			// not expired carry other names than the manifest's, so that
			// they are due without asking the CA's renewal information
			// (which the emulator's CA does not have for them, and the
			// client asks for again and again, for seconds).
			bundles := map[string][]byte{
				"later":   selfSigned(t, now.Add(-70*24*time.Hour), now.Add(20*24*time.Hour), "old.later.example.test"),
				"soon":    selfSigned(t, now.Add(-85*24*time.Hour), now.Add(5*24*time.Hour), "old.soon.example.test"),
				"expired": selfSigned(t, now.Add(-91*24*time.Hour), now.Add(-24*time.Hour), "expired.example.test"),
			}
			var certs []manifest.Certificate
			for _, name := range []string{"later", "soon", "expired", "none"} {
				certs = append(certs, h.cert(name, name+".example.test"))
				if b := bundles[name]; b != nil {
					if err := h.st.Put(h.ctx, "certs/"+name+"/bundle.pem", b, ""); err != nil {
						t.Fatal(err)
					}
				}
			}
			const budget = 30 * time.Second
			e := h.engine(func(o *renew.Options) {
				o.Concurrency = tc.concurrency
				o.PropagationTimeout = budget
				o.MinOrderTime = budget - 4*time.Second
			})
			ctx, cancel := context.WithTimeout(h.ctx, budget)
			defer cancel()
			res := h.run(ctx, e, certs, renew.RunOptions{})
			var renewed []string
			for i, r := range res {
				if r.Name != certs[i].Name {
					t.Fatalf("results out of the manifest's order: %d is %s", i, r.Name)
				}
				if !r.Due {
					t.Errorf("%s: not due: %+v", r.Name, r)
				}
				if r.Renewed {
					renewed = append(renewed, r.Name)
					continue
				}
				want := fmt.Sprintf("%d more urgent certificate(s) were ordered first", tc.concurrency)
				if r.Skipped != renew.SkipNotStarted || r.Error == nil || r.Error.Code != "Deadline" || !r.Error.Transient ||
					!strings.Contains(r.Error.Message, want) || !strings.Contains(r.Error.Message, "next run") {
					t.Errorf("%s: want not started for the deadline, saying %q: %+v %+v", r.Name, want, r, r.Error)
				}
			}
			slices.Sort(renewed)
			want := slices.Sorted(slices.Values(tc.renewed))
			if !slices.Equal(renewed, want) {
				t.Errorf("renewed %v; want the %d most urgent, %v", renewed, tc.concurrency, want)
			}
			if n, _ := h.acme("newOrder"); n != tc.concurrency {
				t.Errorf("%d orders; want %d", n, tc.concurrency)
			}
		})
	}
}

// TestConcurrencyDocumented: shared/config documents the default the
// engine uses.
func TestConcurrencyDocumented(t *testing.T) {
	v, ok := config.Lookup(renew.EnvConcurrency)
	if !ok || v.Default != strconv.Itoa(renew.DefaultConcurrency) {
		t.Errorf("%s is documented with default %q; the engine's is %d", renew.EnvConcurrency, v.Default, renew.DefaultConcurrency)
	}
}
