package main

import (
	"context"
	"sync"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/fanout"
)

// clients keeps the API clients of a process, so that invocations share
// connection pools. An invocation that passes credentials (Function
// Compute passes the role's STS credentials with every invocation, and
// they rotate) gets a client of its own that signs with them and shares
// the first client's connections; one that passes none gets the one
// client that signs with the default chain (environment, aliyun CLI
// profile), built at its first use and kept.
type clients struct {
	getenv func(string) string

	mu    sync.Mutex
	base  *cloud.Client // the first client built, whose connections the given credentials' share
	chain *cloud.Client // the client of the default chain, once built
}

// get returns a client signing with creds when given, else with the
// default chain.
func (cs *clients) get(_ context.Context, creds *credchain.Credentials) (fanout.Client, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if creds == nil {
		if cs.chain == nil {
			c, err := cloud.New(cloud.Options{Getenv: cs.getenv})
			if err != nil {
				return nil, err
			}
			cs.chain = c
			if cs.base == nil {
				cs.base = c
			}
		}
		return cs.chain, nil
	}
	if cs.base == nil {
		c, err := cloud.New(cloud.Options{Getenv: cs.getenv, Credentials: creds})
		if err != nil {
			return nil, err
		}
		cs.base = c
		return c, nil
	}
	return cs.base.WithCredentials(*creds)
}

// newAPIClient builds a client for one command-line run.
func newAPIClient(ctx context.Context, getenv func(string) string, creds *credchain.Credentials) (fanout.Client, error) {
	return (&clients{getenv: getenv}).get(ctx, creds)
}
