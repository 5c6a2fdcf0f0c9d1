package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/store"
)

func runPush(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("push", "FILE|DIR... --to oss://BUCKET/FOLDER/ [--region R]",
		"Uploads a bundle's files into a bucket folder, where the function's OSS trigger picks them\n"+
			"up: for renewal hooks on machines without ossutil. Each file keeps its name. Credentials\n"+
			"and endpoint as for the function: ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, FC_REGION or\n"+
			"--region, CERTDROP_OSS_ENDPOINT. A renewal machine has no FC_REGION: give --region (the\n"+
			"hooks in deploy/hooks pass their CERTDROP_REGION setting as --region). One push\n"+
			"carries a certificate and its private key together: files that form no bundle are\n"+
			"not uploaded.", c)
	to := fs.String("to", "", "the folder to upload into, as `oss://BUCKET/FOLDER/`")
	region := fs.String("region", "", regionFlagHelp)
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(files) == 0 || !strings.HasPrefix(*to, "oss://") {
		return usageError(c, "push", "name the files and --to oss://bucket/folder/")
	}
	srcs, err := readBundleSources(files)
	if err != nil {
		return usageError(c, "push", err.Error())
	}
	// Upload the files that form bundles, and say which formed which;
	// files that form none are reported and left out, since the function
	// could only reject them.
	f, err := bundle.Split(ctx, srcs, bundle.Options{})
	if err != nil {
		return usageError(c, "push", err.Error())
	}
	if len(f.Bundles) == 0 {
		for _, e := range f.Rejected {
			fmt.Fprintf(c.stderr, "certdrop push: %v\n", e)
		}
		return usageError(c, "push", "the files form no bundle (a certificate with its private key): nothing uploaded")
	}
	st, err := store.Open(ctx, *to, store.Options{Getenv: c.getenv, Region: *region})
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop push: %v\n", pushRegionHint(regionHint(err)))
		return exitUsage
	}
	data := map[string][]byte{}
	for _, s := range srcs {
		data[s.Name] = s.Data
	}
	uploaded := map[string]bool{}
	folder := strings.TrimSuffix(*to, "/") + "/"
	for i, b := range f.Bundles {
		fmt.Fprintf(c.stdout, "bundle %d of %d: %s (%s)\n", i+1, len(f.Bundles), b.Identity().CommonName, strings.Join(b.Leaf.DNSNames, ", "))
		for _, n := range b.Sources {
			name := filepath.Base(n)
			if !uploaded[n] {
				if err := st.Put(ctx, name, data[n], "application/x-pem-file"); err != nil {
					fmt.Fprintf(c.stderr, "certdrop push: %v\n", err)
					return exitFail
				}
				uploaded[n] = true
			}
			fmt.Fprintf(c.stdout, "  uploaded %s to %s%s\n", n, folder, name)
		}
	}
	code := exitOK
	for _, e := range f.Rejected {
		fmt.Fprintf(c.stderr, "certdrop push: not uploaded: %v\n", e)
		code = exitFail
	}
	for _, w := range f.Warnings {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	for _, n := range f.Unused {
		if bundle.IsPartName(n) {
			fmt.Fprintf(c.stderr, "certdrop push: not uploaded: %s: no bundle needs it\n", n)
		}
	}
	return code
}

// pushRegionHint adds to an error that lacks an OSS region where the
// renewal hooks take theirs: they run push on renewal machines, which have
// no FC_REGION, and pass CERTDROP_REGION as --region.
func pushRegionHint(err error) error {
	if errors.Is(err, store.ErrNoRegion) {
		return fmt.Errorf("%w (in a renewal hook of deploy/hooks: set CERTDROP_REGION, e.g. in /etc/certdrop/hook.env)", err)
	}
	return err
}
