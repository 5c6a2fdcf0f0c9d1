//go:build !fc

package main

import (
	"context"
	"fmt"
	"net/url"
	"os"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/store"
)

// runSim runs the local cloud emulator until interrupted. The export lines
// go to stdout, ending with "# ready", so a script can wait for them and
// source them; everything else goes to stderr.
func runSim(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("sim", "--config FILE [--journal FILE] [--data DIR] [--notify URL [--notify-prefix P]]",
		"Runs the local cloud emulator: one loopback listener that answers the products'\n"+
			"certificate APIs, Alibaba Cloud DNS and Certificate Management Service (cn-hangzhou)\n"+
			"as the real OpenAPI does (signatures, quotas, error codes, injected faults), one for\n"+
			"Certificate Management Service in ap-southeast-1, and one for OSS (objects and custom\n"+
			"domains with certificates). Prints the environment that points certdrop at it, then\n"+
			"serves until interrupted. See testdata/sim/demo.yaml for the configuration format.", c)
	config := fs.String("config", "", "the emulator's YAML configuration `FILE`")
	journal := fs.String("journal", "", "write every call as a JSON line to `FILE`")
	data := fs.String("data", "", "keep OSS buckets and objects in `DIR` (default: in memory)")
	notify := fs.String("notify", "", "POST an OSS trigger event to `URL` after each upload (e.g. http://127.0.0.1:9000/invoke)")
	notifyPrefix := fs.String("notify-prefix", "", "with --notify: only for keys under the prefix `P`, as the trigger's filter (e.g. certs/)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	}
	if *config == "" {
		return usageError(c, "sim", "--config is required")
	}
	cfg, err := cloudsim.LoadConfig(*config)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop sim: %v\n", err)
		return exitUsage
	}
	if *data != "" {
		cfg.OSS.DataDir = *data
	}
	if *notify != "" {
		u, err := url.Parse(*notify)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError(c, "sim", fmt.Sprintf("--notify %q is not an http(s) URL", *notify))
		}
		t := cloudsim.OSSTriggerSettings{URL: *notify, Prefix: *notifyPrefix}
		if len(cfg.Credentials) > 0 {
			// Function Compute hands the function's role credentials to
			// each invocation; the emulator hands over its first key.
			t.Credentials = cfg.Credentials[0].AccessKeyID
		}
		cfg.OSS.Triggers = append(cfg.OSS.Triggers, t)
	}
	if *journal != "" {
		f, err := os.Create(*journal)
		if err != nil {
			fmt.Fprintf(c.stderr, "certdrop sim: %v\n", err)
			return exitFail
		}
		defer f.Close()
		cfg.JournalWriter = f
	}

	sim, err := cloudsim.New(cfg)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop sim: %v\n", err)
		return exitUsage
	}
	if err := sim.Start(ctx); err != nil {
		fmt.Fprintf(c.stderr, "certdrop sim: %v\n", err)
		return exitFail
	}
	ep := sim.Endpoints()
	fmt.Fprintf(c.stderr, "certdrop sim: serving %d cdn, %d vod, %d live and %d dcdn domains\n",
		len(cfg.Domains.CDN), len(cfg.Domains.VOD), len(cfg.Domains.Live), len(cfg.Domains.DCDN))
	fmt.Fprintf(c.stderr, "  OpenAPI (CDN, VOD, Live, DCDN, DNS, CAS cn-hangzhou): %s\n", ep.OpenAPI)
	fmt.Fprintf(c.stderr, "  CAS ap-southeast-1:            %s\n", ep.CASIntl)
	if ep.OSS != "" {
		fmt.Fprintf(c.stderr, "  OSS:                           %s\n", ep.OSS)
	}
	if ep.DNS != "" {
		fmt.Fprintf(c.stderr, "  DNS server (%d zones):          %s (UDP and TCP)\n", len(cfg.DNS.Zones), ep.DNS)
	}
	if ep.ACMEDirectory != "" {
		fmt.Fprintf(c.stderr, "  ACME CA (pebble) directory:    %s\n", ep.ACMEDirectory)
		fmt.Fprintf(c.stderr, "  ACME CA TLS root:              %s\n", ep.ACMETrustRoots)
		fmt.Fprintf(c.stderr, "  ACME CA issuing root:          %s\n", ep.ACMEIssuerRoot)
	}
	if *journal != "" {
		fmt.Fprintf(c.stderr, "  journal:                       %s\n", *journal)
	}
	fmt.Fprintln(c.stderr, "Export the lines printed on stdout; press Ctrl-C to stop.")
	env := sim.Env()
	if o := sim.OSS(); o != nil {
		// push, show oss:// and invoke sign for the bucket's region.
		env = append(env, store.EnvRegion+"="+o.Region())
	}
	for _, kv := range env {
		fmt.Fprintf(c.stdout, "export %s\n", kv)
	}
	if len(cfg.Credentials) > 0 {
		fmt.Fprintf(c.stdout, "# export ALIBABA_CLOUD_ACCESS_KEY_SECRET=<the accessKeySecret of %s in %s>\n",
			cfg.Credentials[0].AccessKeyID, *config)
	}
	fmt.Fprintln(c.stdout, "# ready")

	<-ctx.Done()
	err = sim.Close()
	ok, failed := 0, 0
	for _, e := range sim.Journal().Entries() {
		if e.Outcome == "ok" {
			ok++
		} else {
			failed++
		}
	}
	fmt.Fprintf(c.stderr, "certdrop sim: stopped after %d calls (%d ok, %d not)\n", ok+failed, ok, failed)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop sim: %v\n", err)
		return exitFail
	}
	return exitOK
}
