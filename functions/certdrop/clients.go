package main

import (
	"context"
	"sync"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/product"
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
	base  *cloud.Client   // the first transport built, whose connections the given credentials' share
	chain *product.Client // the client of the default chain, once built
}

// newTransport builds a transport that checks the products' endpoint
// overrides.
func (cs *clients) newTransport(creds *credchain.Credentials) (*cloud.Client, error) {
	return cloud.New(cloud.Options{Getenv: cs.getenv, Credentials: creds, EndpointVars: products().EndpointVars()})
}

// get returns a client signing with creds when given, else with the
// default chain.
func (cs *clients) get(_ context.Context, creds *credchain.Credentials) (fanout.Client, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if creds == nil {
		if cs.chain == nil {
			c, err := cs.newTransport(nil)
			if err != nil {
				return nil, err
			}
			cs.chain = products().Client(c)
			if cs.base == nil {
				cs.base = c
			}
		}
		return cs.chain, nil
	}
	if cs.base == nil {
		c, err := cs.newTransport(creds)
		if err != nil {
			return nil, err
		}
		cs.base = c
		return products().Client(c), nil
	}
	c, err := cs.base.WithCredentials(*creds)
	if err != nil {
		return nil, err
	}
	return products().Client(c), nil
}

// newAPIClient builds a client for one command-line run.
func newAPIClient(ctx context.Context, getenv func(string) string, creds *credchain.Credentials) (fanout.Client, error) {
	return (&clients{getenv: getenv}).get(ctx, creds)
}
