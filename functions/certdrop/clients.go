package main

import (
	"context"
	"sync"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/store"
)

// clients keeps one CDN/VOD/Live client per process, so that invocations
// share its connection pools, while each invocation signs with its own
// credentials (Function Compute passes the role's STS credentials with
// every invocation, and they rotate).
type clients struct {
	getenv func(string) string

	mu   sync.Mutex
	base *cloud.Client
}

// get returns a client signing with creds when given, else with the
// default chain (environment, aliyun CLI profile).
func (cs *clients) get(_ context.Context, creds *store.Credentials) (fanout.Client, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var given *cloud.Credentials
	if creds != nil {
		given = &cloud.Credentials{AccessKeyID: creds.AccessKeyID, AccessKeySecret: creds.AccessKeySecret, SecurityToken: creds.SecurityToken}
	}
	if cs.base == nil {
		c, err := cloud.New(cloud.Options{Getenv: cs.getenv, Credentials: given})
		if err != nil {
			return nil, err
		}
		cs.base = c
		return c, nil
	}
	if given == nil {
		return cloud.New(cloud.Options{Getenv: cs.getenv})
	}
	return cs.base.WithCredentials(*given)
}

// newAPIClient builds a client for one command-line run.
func newAPIClient(ctx context.Context, getenv func(string) string, creds *store.Credentials) (fanout.Client, error) {
	return (&clients{getenv: getenv}).get(ctx, creds)
}
