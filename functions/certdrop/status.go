package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/job"
	"github.com/certdrop/certdrop/shared/status"
	"github.com/certdrop/certdrop/shared/store"
)

// statusURLValidity is how long `certdrop status --url` links work.
const statusURLValidity = time.Hour

// statusPerState is how many targets `certdrop status` lists per state
// without --all.
const statusPerState = 20

func runStatus(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("status", "[--file FILE] [--json] [--all] [--url] [--bucket B] [--region R]",
		"Prints the fleet's status as the function last wrote it (status.json beside the status page\n"+
			"under CERTDROP_STATUS_PREFIX in CERTDROP_BUCKET): every target grouped by state, most urgent\n"+
			"first, then the ACME renewals and the last runs. --json prints status.json (docs/status.md\n"+
			"describes it); --url prints a link to the page that works for one hour without credentials.\n"+
			"Exit 0 when no target is failed, expiring or serving another certificate and no renewal is\n"+
			"failing, 1 otherwise.", c)
	file := fs.String("file", "", "read a local status.json `FILE` instead of the bucket")
	asJSON := fs.Bool("json", false, "print status.json")
	all := fs.Bool("all", false, fmt.Sprintf("list every target (default: the first %d of each state)", statusPerState))
	url := fs.Bool("url", false, "print a presigned URL to the status page, valid one hour")
	bucket := fs.String("bucket", "", "the bucket `B` (default: CERTDROP_BUCKET)")
	region := fs.String("region", "", regionFlagHelp)
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(rest) > 0 {
		return usageError(c, "status", fmt.Sprintf("unexpected argument %q", rest[0]))
	}
	if *file != "" && (*url || *bucket != "") {
		return usageError(c, "status", "--file reads a local status.json: --url and --bucket name the bucket's")
	}
	jc := &job.Config{StatusPrefix: config.Get(c.getenv, config.StatusPrefix)}
	pageKey, dataKey := jc.StatusKeys()
	var data []byte
	if *file != "" {
		if data, err = os.ReadFile(*file); err != nil {
			return usageError(c, "status", err.Error())
		}
	} else {
		b := *bucket
		if b == "" {
			b = c.getenv(config.Bucket)
		}
		if b == "" {
			return usageError(c, "status", "name the bucket: --bucket, or set "+config.Bucket)
		}
		st, oerr := store.OpenOSS(ctx, b, "", store.Options{Getenv: withRegion(c.getenv, *region), Region: *region})
		if oerr != nil {
			fmt.Fprintf(c.stderr, "certdrop status: %v\n", regionHint(oerr))
			return exitUsage
		}
		if *url {
			u, perr := st.Presign(ctx, pageKey, statusURLValidity)
			if perr != nil {
				fmt.Fprintf(c.stderr, "certdrop status: %v\n", perr)
				return exitFail
			}
			fmt.Fprintln(c.stdout, u)
			return exitOK
		}
		obj, gerr := st.WithMaxSize(status.MaxDecodeSize).Get(ctx, dataKey)
		if gerr != nil {
			fmt.Fprintf(c.stderr, "certdrop status: oss://%s/%s: %v\n", b, dataKey, gerr)
			return exitFail
		}
		data = obj.Data
	}
	s, err := status.Decode(data)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop status: %v\n", err)
		return exitFail
	}
	if s == nil {
		fmt.Fprintln(c.stderr, "certdrop status: status.json is empty")
		return exitFail
	}
	if *asJSON {
		js, err := s.JSON()
		if err != nil {
			fmt.Fprintf(c.stderr, "certdrop status: %v\n", err)
			return exitFail
		}
		_, _ = c.stdout.Write(js)
	} else {
		o := status.TextOptions{PerState: statusPerState}
		if *all {
			o.PerState = 0
		}
		if err := status.Text(c.stdout, s, o); err != nil {
			fmt.Fprintf(c.stderr, "certdrop status: %v\n", err)
			return exitFail
		}
	}
	if urgent(s) {
		return exitFail
	}
	return exitOK
}

// urgent reports whether the status holds something to act on: a target
// failed, expiring or serving a certificate certdrop did not set, or a
// failing renewal.
func urgent(s *status.Status) bool {
	for _, t := range s.Targets {
		switch t.State {
		case status.StateFailed, status.StateExpiring, status.StateOther:
			return true
		}
	}
	for _, r := range s.Renewals {
		if r.State == "failing" {
			return true
		}
	}
	return false
}
