package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/certdrop/certdrop/shared/fanout"
)

// tableAllRows is the most targets a table lists in full; above it, only
// the targets that did not end deployed are listed (the JSON has them all).
const tableAllRows = 50

// WriteTable prints the report for a person: a header naming the bundle,
// one row per target, and the summary.
func WriteTable(w io.Writer, r *Report) error {
	b := r.Bundle
	fp := b.Fingerprint
	if len(fp) > 16 {
		fp = fp[:16] + "…"
	}
	mode := ""
	if r.DryRun {
		mode = " DRY RUN (no certificate was set)"
	}
	fmt.Fprintf(w, "run %s (%s)%s\ncertificate %s [%s], sha256 %s, expires %s\n\n",
		r.RunID, r.Trigger, mode, b.Subject, strings.Join(b.SANs, ", "), fp, b.NotAfter.Format(time.DateOnly))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRODUCT\tDOMAIN\tSTATE\tATTEMPTS\tTHROTTLED\tTIME\tDETAIL")
	hidden := 0
	for _, t := range r.Targets {
		if len(r.Targets) > tableAllRows && t.State == fanout.Deployed {
			hidden++
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", t.Product, t.Domain, t.State, t.Attempts, t.Throttled,
			(time.Duration(t.DurationMs) * time.Millisecond).String(), detail(t))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if hidden > 0 {
		fmt.Fprintf(w, "(%d deployed targets not listed; --json lists every target)\n", hidden)
	}
	_, err := fmt.Fprintf(w, "\n%s\n", SummaryLine(r))
	return err
}

// detail explains a row: the error and its hint, or what the domain had.
func detail(t Target) string {
	switch {
	case t.Error != nil:
		s := t.Error.Code + ": " + t.Error.Message
		if t.Error.Hint != "" {
			s += " → " + t.Error.Hint
		}
		return s
	case t.State == fanout.SkippedNewer && t.Note != "":
		return t.Note
	case t.State == fanout.SkippedNewer && t.Previous != nil && t.Previous.NotAfter != nil:
		return fmt.Sprintf("carries %s, expiring %s (later)", t.Previous.CertName, t.Previous.NotAfter.Format(time.DateOnly))
	case t.State == fanout.Unchanged && t.Previous != nil:
		return "already carries " + t.Previous.CertName
	}
	return ""
}

// SummaryLine is the one-line account of a run: counts per state, the
// duration and the quota lower bound.
func SummaryLine(r *Report) string {
	s := r.Summary
	var parts []string
	for _, c := range []struct {
		n    int
		name fanout.State
	}{
		{s.Deployed, fanout.Deployed}, {s.Unchanged, fanout.Unchanged}, {s.SkippedNewer, fanout.SkippedNewer},
		{s.Planned, fanout.Planned}, {s.NotCovered, fanout.NotCovered}, {s.Failed, fanout.Failed},
		{s.NotStarted, fanout.NotStarted},
	} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.name))
		}
	}
	if len(parts) == 0 {
		parts = []string{"no targets"}
	}
	verdict := "OK"
	if !s.OK() {
		verdict = "FAILED"
	}
	return fmt.Sprintf("%s: %s of %d target(s) in %s (quota lower bound %s)", verdict, strings.Join(parts, ", "),
		s.Total, (time.Duration(s.DurationMs) * time.Millisecond).String(), (time.Duration(s.LowerBoundMs) * time.Millisecond).String())
}
