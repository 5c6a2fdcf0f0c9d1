package main

import (
	"context"
	"slices"
	"testing"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/dnsprovider/alidns"
)

// TestRunnerRenewalWiring: the function's runner can renew: its API client
// also calls Alibaba Cloud DNS (the job takes the alidns caller from it,
// signing with the invocation's credentials), and the renewal settings
// come from the environment.
func TestRunnerRenewalWiring(t *testing.T) {
	env := map[string]string{
		"CERTDROP_BUCKET":           "b",
		"CERTDROP_DNS_RESOLVERS":    "127.0.0.1:5353, 10.0.0.1",
		"CERTDROP_ACME_TRUST_ROOTS": "oss://b/roots.pem",
		"FC_REGION":                 "cn-shanghai",
	}
	r, err := newRunner(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Config.Resolvers, []string{"127.0.0.1:5353", "10.0.0.1:53"}) || r.Config.ACMETrustRoots != "oss://b/roots.pem" ||
		r.Config.Getenv == nil || r.Config.Getenv("CERTDROP_BUCKET") != "b" {
		t.Errorf("config %+v", r.Config)
	}
	c, err := r.NewClient(context.Background(), &credchain.Credentials{AccessKeyID: "AK", AccessKeySecret: "SK"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(alidns.Caller); !ok {
		t.Errorf("the API client %T cannot call Alibaba Cloud DNS: the timer could not renew through alidns", c)
	}
	env["CERTDROP_DNS_RESOLVERS"] = "127.0.0.1:99999"
	if _, err := newRunner(func(k string) string { return env[k] }); err == nil {
		t.Error("a bad CERTDROP_DNS_RESOLVERS was accepted")
	}
}
