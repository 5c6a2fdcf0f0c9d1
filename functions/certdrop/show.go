package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/job"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

func runShow(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("show", "FILE|oss://BUCKET/KEY [--region R]",
		"Prints a report the function wrote (an invocation outcome) or that 'deploy --json' printed,\n"+
			"as tables a person reads. Exit 0 when the run succeeded, 1 when it failed.", c)
	region := fs.String("region", "", regionFlagHelp)
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(files) != 1 {
		return usageError(c, "show", "name one report file or oss:// object")
	}
	var data []byte
	if loc := files[0]; strings.HasPrefix(loc, "oss://") {
		bucket, key, perr := event.ParseOSSURL(loc)
		if perr != nil {
			return usageError(c, "show", perr.Error())
		}
		st, oerr := store.OpenOSS(ctx, bucket, "", store.Options{Getenv: c.getenv, Region: *region})
		if oerr != nil {
			fmt.Fprintf(c.stderr, "certdrop show: %v\n", regionHint(oerr))
			return exitUsage
		}
		obj, gerr := st.Get(ctx, key)
		if gerr != nil {
			fmt.Fprintf(c.stderr, "certdrop show: %v\n", gerr)
			return exitUsage
		}
		data = obj.Data
	} else if data, err = os.ReadFile(loc); err != nil {
		return usageError(c, "show", err.Error())
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		fmt.Fprintf(c.stderr, "certdrop show: not a certdrop report: %v\n", err)
		return exitUsage
	}
	if _, ok := probe["reports"]; ok {
		var o job.Outcome
		if err := json.Unmarshal(data, &o); err != nil {
			fmt.Fprintf(c.stderr, "certdrop show: %v\n", err)
			return exitUsage
		}
		_ = job.WriteOutcome(c.stdout, &o)
		if o.Failed() {
			return exitFail
		}
		return exitOK
	}
	if _, ok := probe["bundles"]; ok {
		return showDeploy(c, data)
	}
	var r report.Report
	if err := json.Unmarshal(data, &r); err != nil || r.RunID == "" {
		fmt.Fprintf(c.stderr, "certdrop show: not a certdrop report\n")
		return exitUsage
	}
	_ = report.WriteTable(c.stdout, &r)
	if !r.Summary.OK() {
		return exitFail
	}
	return exitOK
}

// showDeploy prints what 'deploy --json' printed: each bundle's report,
// then what formed no valid bundle. Exit 0 when it says ok.
func showDeploy(c *cli, data []byte) int {
	var d deployOutput
	if err := json.Unmarshal(data, &d); err != nil {
		fmt.Fprintf(c.stderr, "certdrop show: %v\n", err)
		return exitUsage
	}
	for i, r := range d.Bundles {
		if r == nil || r.RunID == "" {
			fmt.Fprintf(c.stderr, "certdrop show: not a certdrop report\n")
			return exitUsage
		}
		if len(d.Bundles) > 1 {
			if i > 0 {
				fmt.Fprintln(c.stdout)
			}
			fmt.Fprintf(c.stdout, "== bundle %d of %d: %s, from %s\n", i+1, len(d.Bundles), r.Bundle.Subject, strings.Join(r.Bundle.Keys, ", "))
		}
		_ = report.WriteTable(c.stdout, r)
	}
	for _, w := range d.Warnings {
		fmt.Fprintf(c.stdout, "warning: %s\n", w)
	}
	for _, p := range d.Problems {
		fmt.Fprintf(c.stdout, "not deployed: %s\n", p)
	}
	if !d.OK {
		return exitFail
	}
	return exitOK
}
