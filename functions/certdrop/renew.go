package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/dnsprovider/alidns"
	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/job"
	"github.com/certdrop/certdrop/shared/renew"
	"github.com/certdrop/certdrop/shared/store"
)

func runRenew(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("renew", "[--manifest FILE|oss://B/KEY] [--name N]... [--force] [--dry-run] [--out DIR|oss://BUCKET/PREFIX] [--json] [-v] [--timeout D]",
		"Obtains or renews the manifest's certificates (its certificates section) through ACME with\n"+
			"DNS-01, when due, and writes each as <out>/<name>/bundle.pem. The account key and each\n"+
			"certificate's state are kept under certdrop/acme/ at the root of the output (the bucket, or\n"+
			"DIR). Defaults: --manifest $CERTDROP_MANIFEST, --out oss://$CERTDROP_BUCKET/$CERTDROP_TRIGGER_PREFIX.\n"+
			"DNS: CERTDROP_DNS_RESOLVERS; a private CA's TLS root: CERTDROP_ACME_TRUST_ROOTS; alidns\n"+
			"uses the Alibaba Cloud credentials and CERTDROP_ALIDNS_ENDPOINT.", c)
	manifestLoc := fs.String("manifest", c.getenv(config.Manifest), "the manifest: a file or oss://bucket/key")
	var names multiFlag
	fs.Var(&names, "name", "renew only this certificate (repeatable)")
	force := fs.Bool("force", false, "renew even when not due, ignoring back-off and the daily limit")
	dryRun := fs.Bool("dry-run", false, "report what is due; order and write nothing")
	out := fs.String("out", "", "where bundles go: a directory, or oss://bucket/prefix/")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	verbose := fs.Bool("v", false, "log each step to stderr")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up (and clean up) after this long")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(rest) > 0 {
		return usageError(c, "renew", "unexpected argument "+rest[0])
	}
	if *manifestLoc == "" {
		return usageError(c, "renew", "name the manifest with --manifest (or CERTDROP_MANIFEST)")
	}
	if *out == "" {
		if b := c.getenv(config.Bucket); b != "" {
			*out = "oss://" + b + "/" + config.Get(c.getenv, config.TriggerPrefix)
		} else {
			return usageError(c, "renew", "name where bundles go with --out DIR or --out oss://bucket/prefix/ (or CERTDROP_BUCKET)")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	m, code := loadManifest(ctx, c, "renew", *manifestLoc)
	if m == nil {
		return code
	}
	if len(m.Certificates) == 0 {
		fmt.Fprintf(c.stderr, "certdrop renew: %s has no certificates section: nothing to renew\n", *manifestLoc)
		return exitUsage
	}
	st, prefix, err := openOutput(ctx, c, *out)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop renew: --out: %v\n", err)
		return exitUsage
	}
	resolvers, err := renew.ParseResolvers(c.getenv(renew.EnvDNSResolvers))
	if err != nil {
		return usageError(c, "renew", err.Error())
	}
	concurrency, err := renew.ParseConcurrency(c.getenv(renew.EnvConcurrency))
	if err != nil {
		return usageError(c, "renew", err.Error())
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	// The function's renewal engine: the same providers, resolvers and
	// ACME roots.
	eng, err := job.NewRenewEngine(ctx, job.RenewSetup{
		Options:    renew.Options{Store: st, Prefix: prefix, Getenv: c.getenv, Concurrency: concurrency, Logger: slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))},
		Resolvers:  resolvers,
		TrustRoots: c.getenv(renew.EnvTrustRoots),
		Load:       func(ctx context.Context, loc string) ([]byte, error) { return readLocation(ctx, c, loc) },
		DNS:        func(context.Context) (alidns.Caller, error) { return cloud.New(cloud.Options{Getenv: c.getenv}) },
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop renew: %v\n", err)
		return exitUsage
	}
	res, err := eng.Run(ctx, m.Certificates, renew.RunOptions{Names: names, Force: *force, DryRun: *dryRun})
	if err != nil {
		return usageError(c, "renew", err.Error())
	}
	if *asJSON {
		printJSON(c.stdout, res)
	} else {
		printRenewResults(c, res)
	}
	// A due certificate not renewed fails the command as the function
	// alerts it: an error, a record left behind, or the back-off holding
	// it back.
	for _, r := range res {
		if r.Alert() {
			return exitFail
		}
	}
	return exitOK
}

// printRenewResults prints one line per certificate.
func printRenewResults(c *cli, res []renew.Result) {
	for _, r := range res {
		fmt.Fprintf(c.stdout, "%-24s %s\n", r.Name, r.Line())
		if r.Error != nil && r.Error.Hint != "" {
			fmt.Fprintf(c.stdout, "%-24s what to do: %s\n", "", r.Error.Hint)
		}
		for _, l := range r.LeftBehind {
			fmt.Fprintf(c.stdout, "%-24s DNS record %s could not be removed: delete it by hand\n", "", l)
		}
	}
}

// openOutput opens where bundles and state go: a directory, or an OSS
// bucket at its root with the prefix given.
func openOutput(ctx context.Context, c *cli, out string) (store.Store, string, error) {
	if !strings.HasPrefix(out, "oss://") {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, "", err
		}
		st, err := store.OpenDir(out, store.Options{Getenv: c.getenv})
		return st, "", err
	}
	bucket, prefix, err := event.ParseOSSURL(out)
	if err != nil {
		return nil, "", err
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	st, err := store.OpenOSS(ctx, bucket, "", store.Options{Getenv: c.getenv})
	return st, prefix, err
}

// readLocation reads a file, or an oss://bucket/key object (the key as
// written, like every oss:// location: event.ParseOSSURL).
func readLocation(ctx context.Context, c *cli, loc string) ([]byte, error) {
	if !strings.HasPrefix(loc, "oss://") {
		return os.ReadFile(loc)
	}
	bucket, key, err := event.ParseOSSURL(loc)
	if err == nil && key == "" {
		err = fmt.Errorf("%q names no object: oss://bucket/key", loc)
	}
	if err != nil {
		return nil, err
	}
	st, err := store.OpenOSS(ctx, bucket, "", store.Options{Getenv: c.getenv})
	if err != nil {
		return nil, err
	}
	o, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return o.Data, nil
}
