package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/certdrop/certdrop/shared/store"
)

// regionFlagHelp is the help of the --region flag of the commands that
// reach OSS.
const regionFlagHelp = "the OSS region `R`, e.g. cn-hangzhou (default: FC_REGION)"

// withRegion returns getenv with FC_REGION answered by region when one is
// given, so that --region configures what reads FC_REGION.
func withRegion(getenv func(string) string, region string) func(string) string {
	if region == "" {
		return getenv
	}
	return func(k string) string {
		if k == store.EnvRegion {
			return region
		}
		return getenv(k)
	}
}

// regionHint adds to an error that lacks an OSS region how the command
// line gives one.
func regionHint(err error) error {
	if errors.Is(err, store.ErrNoRegion) {
		return fmt.Errorf("%w; pass --region (e.g. --region cn-hangzhou) or set %s", err, store.EnvRegion)
	}
	return err
}

// checkRegion refuses, before anything runs, an OSS configuration that
// names no region: opening a store sends no request.
func checkRegion(ctx context.Context, getenv func(string) string) error {
	_, err := store.OpenOSS(ctx, "certdrop-region-check", "", store.Options{Getenv: getenv})
	if errors.Is(err, store.ErrNoRegion) {
		return regionHint(err)
	}
	return nil
}
