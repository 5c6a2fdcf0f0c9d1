package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/certdrop/certdrop/shared/store"
)

func runPush(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("push", "FILE|DIR... --to oss://BUCKET/FOLDER/ [--region R]",
		"Uploads a bundle's files into a bucket folder, where the function's OSS trigger picks them\n"+
			"up: for renewal hooks on machines without ossutil. Each file keeps its name. Credentials\n"+
			"and endpoint as for the function: ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, FC_REGION or\n"+
			"--region, CERTDROP_OSS_ENDPOINT.", c)
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
	st, err := store.Open(ctx, *to, store.Options{Getenv: c.getenv, Region: *region})
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop push: %v\n", regionHint(err))
		return exitUsage
	}
	for _, s := range srcs {
		name := filepath.Base(s.Name)
		if err := st.Put(ctx, name, s.Data, "application/x-pem-file"); err != nil {
			fmt.Fprintf(c.stderr, "certdrop push: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(c.stdout, "uploaded %s to %s%s\n", s.Name, strings.TrimSuffix(*to, "/")+"/", name)
	}
	return exitOK
}
