package openapidns_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloud/answer"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/dnsprovider/internal/openapidns"
)

const secret = "openapidns-test-secret"

// api starts the emulator with the zone example.com and faults and
// returns an API on its Alibaba Cloud DNS service, through the client
// renewal uses.
func api(t *testing.T, faults []cloudsim.Script, settling []string) (*openapidns.API, *cloudsim.Sim) {
	t.Helper()
	cfg := cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: "LTAIopenapidns", AccessKeySecret: secret}},
		DNS:         cloudsim.DNSSettings{Zones: []cloudsim.ZoneSettings{{Name: "example.com"}}},
		Faults:      cloudsim.Faults{Scripted: faults},
	}
	cfg.OSS.Disabled = true
	sim, env := cloudsimtest.StartEnv(t, cfg)
	getenv := func(k string) string { return env[k] }
	c, err := cloud.New(cloud.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	a, err := openapidns.New(c, getenv, openapidns.Config{
		Name: "testdns", Version: "2015-01-09", EnvEndpoint: config.AliDNSEndpoint,
		DefaultEndpoint: "https://alidns.aliyuncs.com", Quotas: map[string]float64{"AddDomainRecord": 50},
		Settling: settling,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.Endpoint(), "http://127.0.0.1:") {
		t.Fatalf("endpoint %s: the override is not used", a.Endpoint())
	}
	return a, sim
}

func adds(sim *cloudsim.Sim) (ok, failed int) {
	for _, e := range sim.Journal().Entries() {
		if e.API == "AddDomainRecord" {
			if e.Outcome == "ok" {
				ok++
			} else {
				failed++
			}
		}
	}
	return ok, failed
}

var add = map[string]string{"DomainName": "example.com", "RR": "_acme-challenge", "Type": "TXT", "Value": "v", "TTL": "600"}

// TestCall: throttled and transient answers and the settling codes are
// retried until the call passes; anything else is not retried and is
// named with the API's name; a refusal is marked as one.
func TestCall(t *testing.T) {
	for _, tc := range []struct {
		name             string
		fault            cloudsim.Script
		settling         []string
		wantErr          string // prefix of the error; "" for success
		wantOK, wantFail int
		refused          bool
	}{
		{name: "throttled", fault: cloudsim.Script{Code: "Throttling.User", Times: 2}, wantOK: 1, wantFail: 2},
		{name: "5xx", fault: cloudsim.Script{Code: "ServiceUnavailable", Status: 503, Times: 1}, wantOK: 1, wantFail: 1},
		{name: "settling", fault: cloudsim.Script{Code: "LastOperationNotFinished", Times: 1},
			settling: []string{"LastOperationNotFinished"}, wantOK: 1, wantFail: 1},
		{name: "not settling", fault: cloudsim.Script{Code: "LastOperationNotFinished", Times: 1},
			wantErr: "testdns: ", wantFail: 1, refused: true},
		{name: "permanent", fault: cloudsim.Script{Code: "IncorrectDomainUser", Times: 5},
			wantErr: "testdns: ", wantFail: 1, refused: true},
		{name: "reset every time", fault: cloudsim.Script{Fault: "reset", Times: 100},
			wantErr: "testdns: failed 5 times: ", wantFail: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.fault
			f.Domain, f.API = "example.com", "AddDomainRecord"
			a, sim := api(t, []cloudsim.Script{f}, tc.settling)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			body, err := a.Call(ctx, "AddDomainRecord", "_acme-challenge.example.com", add)
			switch {
			case tc.wantErr == "" && (err != nil || answer.String(body["RecordId"]) == ""):
				t.Fatalf("Call = %v, %v; want a RecordId", body, err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Fatalf("Call error %v; want one starting %q", err, tc.wantErr)
			}
			if ok, failed := adds(sim); ok != tc.wantOK || failed != tc.wantFail {
				t.Errorf("AddDomainRecord: %d ok, %d failed; want %d and %d", ok, failed, tc.wantOK, tc.wantFail)
			}
			if err != nil {
				var r interface{ Refused() bool }
				if got := errors.As(openapidns.Refusal(err), &r) && r.Refused(); got != tc.refused {
					t.Errorf("refused %v, want %v: %v", got, tc.refused, err)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error holds the secret")
				}
			}
		})
	}
}

// TestCallChecked: a write whose answer was lost after the API applied it
// is not sent again when applied finds it done.
func TestCallChecked(t *testing.T) {
	a, sim := api(t, []cloudsim.Script{{Domain: "example.com", API: "AddDomainRecord", Fault: "resetAfterApply", Times: 1}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	asked := 0
	body, err := a.CallChecked(ctx, "AddDomainRecord", "_acme-challenge.example.com", add, func() (map[string]any, bool) {
		asked++
		for _, r := range sim.DNSRecords("example.com") {
			if r.Type == "TXT" && r.Value == "v" {
				return map[string]any{"RecordId": "found"}, true
			}
		}
		return nil, false
	})
	if err != nil || body["RecordId"] != "found" || asked != 1 {
		t.Fatalf("CallChecked = %v, %v after %d checks; want the applied write's answer after one", body, err, asked)
	}
	if ok, failed := adds(sim); ok+failed != 1 {
		t.Errorf("AddDomainRecord sent %d times, want once", ok+failed)
	}
	n := 0
	for _, r := range sim.DNSRecords("example.com") {
		if r.Type == "TXT" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d TXT records, want 1", n)
	}
}

func TestEndpoint(t *testing.T) {
	cfg := openapidns.Config{Name: "testdns", EnvEndpoint: "CERTDROP_TESTDNS_ENDPOINT", DefaultEndpoint: "https://dns.example.com"}
	for _, tc := range []struct {
		env, want string
		ok        bool
	}{
		{"", "https://dns.example.com", true},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"http://dns.example.net", "", false},
	} {
		a, err := openapidns.New(nil, func(k string) string {
			if k == cfg.EnvEndpoint {
				return tc.env
			}
			return ""
		}, cfg)
		if (err == nil) != tc.ok || (err == nil && a.Endpoint() != tc.want) {
			t.Errorf("%q: %v %v; want %q", tc.env, a, err, tc.want)
		}
	}
}

func TestHolder(t *testing.T) {
	zones := []string{"example.com", "sub.example.com", "other.org"}
	for _, tc := range []struct {
		name, want string
	}{
		{"_acme-challenge.www.sub.example.com", "sub.example.com"},
		{"sub.example.com", "sub.example.com"},
		{"_acme-challenge.example.com", "example.com"},
		{"notsub-example.com", ""},
		{"com", ""},
	} {
		got, ok := openapidns.Holder(tc.name, zones, func(z string) string { return z })
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Holder(%s) = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}

func TestRecords(t *testing.T) {
	txt := openapidns.Record("_acme-challenge", "TXT", "v", 600*time.Second, "42")
	if got := openapidns.ProviderID(txt); got != "42" {
		t.Errorf("ProviderID = %q", got)
	}
	if rr := txt.RR(); rr.Name != "_acme-challenge" || rr.Type != "TXT" || rr.Data != "v" || rr.TTL != 600*time.Second {
		t.Errorf("TXT record %+v", rr)
	}
	if a, ok := openapidns.Record("www", "A", "192.0.2.1", time.Minute, "7").(libdns.Address); !ok || a.IP.String() != "192.0.2.1" {
		t.Errorf("A record parsed as %#v", a)
	}
	if got := openapidns.ProviderID(libdns.TXT{Name: "x", Text: "v"}); got != "" {
		t.Errorf("ProviderID of a record without one = %q", got)
	}
	for in, want := range map[string]string{"": "@", "_acme-challenge.": "_acme-challenge", "www": "www"} {
		if got := openapidns.Relative(in); got != want {
			t.Errorf("Relative(%q) = %q, want %q", in, got, want)
		}
	}
	if got := openapidns.Canonical("WWW.Example.COM."); got != "www.example.com" {
		t.Errorf("Canonical = %q", got)
	}
}

func TestTargets(t *testing.T) {
	listed := []openapidns.Found{{ID: "1", Name: "_acme-challenge", Type: "TXT", Value: "a"}, {ID: "2", Name: "_acme-challenge", Type: "TXT", Value: "b"}}
	lookups := 0
	lookup := func() ([]openapidns.Found, error) { lookups++; return listed, nil }
	got, err := openapidns.Targets(openapidns.Record("_acme-challenge", "TXT", "a", time.Minute, "9"), "_acme-challenge", lookup)
	if err != nil || len(got) != 1 || got[0].ID != "9" || got[0].Value != "a" || got[0].TTL != time.Minute || lookups != 0 {
		t.Errorf("by ID: %+v %v after %d lookups", got, err, lookups)
	}
	got, err = openapidns.Targets(libdns.TXT{Name: "_acme-challenge", Text: "a"}, "_acme-challenge", lookup)
	if err != nil || len(got) != 2 || lookups != 1 {
		t.Errorf("by lookup: %+v %v after %d lookups", got, err, lookups)
	}
	boom := errors.New("boom")
	if _, err := openapidns.Targets(libdns.TXT{Name: "x"}, "x", func() ([]openapidns.Found, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("lookup error: %v", err)
	}
	for _, tc := range []struct {
		typ, value string
		want       bool
	}{
		{"", "", true}, {"txt", "", true}, {"TXT", "a", true}, {"A", "", false}, {"", "b", false},
	} {
		if got := listed[0].Matches(tc.typ, tc.value); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v", tc.typ, tc.value, got)
		}
	}
}
