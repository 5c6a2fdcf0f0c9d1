package main

import (
	"context"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/store"
)

// newAPIClient builds the CDN/VOD/Live client: with the invocation's
// credentials when given, else the default chain (environment, CLI profile).
func newAPIClient(_ context.Context, getenv func(string) string, creds *store.Credentials) (fanout.Client, error) {
	opts := cloud.Options{Getenv: getenv}
	if creds != nil {
		opts.Credentials = &cloud.Credentials{
			AccessKeyID: creds.AccessKeyID, AccessKeySecret: creds.AccessKeySecret, SecurityToken: creds.SecurityToken,
		}
	}
	return cloud.New(opts)
}
