package job

import (
	"fmt"
	"io"
	"strings"

	"github.com/certdrop/certdrop/shared/report"
)

// WriteOutcome prints an outcome for a person: each report's table, then
// the bundles waiting, refused or ignored, and the expiring targets.
func WriteOutcome(w io.Writer, o *Outcome) error {
	fmt.Fprintf(w, "invocation %s (%s)", o.RequestID, o.Trigger)
	if o.ReportKey != "" {
		fmt.Fprintf(w, ", report %s", o.ReportKey)
	}
	fmt.Fprintln(w)
	if o.Error != nil {
		fmt.Fprintf(w, "\nFAILED before any call: %s: %s\n", o.Error.Code, o.Error.Message)
		if o.Error.Hint != "" {
			fmt.Fprintf(w, "  what to do: %s\n", o.Error.Hint)
		}
	}
	if e := o.ReportError; e != nil {
		fmt.Fprintf(w, "\nREPORT NOT WRITTEN: %s\n", e.Message)
		if e.Hint != "" {
			fmt.Fprintf(w, "  what to do: %s\n", e.Hint)
		}
	}
	writeRenewals(w, o)
	for _, r := range o.Reports {
		fmt.Fprintln(w)
		if err := report.WriteTable(w, r); err != nil {
			return err
		}
	}
	section := func(title string, items []Skipped) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, s := range items {
			fmt.Fprintf(w, "  %s: %s", s.Unit, s.Reason)
			if len(s.Keys) > 0 {
				fmt.Fprintf(w, " [%s]", strings.Join(s.Keys, ", "))
			}
			fmt.Fprintln(w)
			if s.Error != nil {
				fmt.Fprintf(w, "    %s: %s\n", s.Error.Code, s.Error.Message)
				if s.Error.Hint != "" {
					fmt.Fprintf(w, "    what to do: %s\n", s.Error.Hint)
				}
			}
		}
	}
	section("waiting (the other file's upload completes these)", o.Waiting)
	section("invalid bundles (nothing was called for them)", o.Invalid)
	section("ignored", o.Ignored)
	if len(o.Pins) > 0 {
		fmt.Fprintln(w, "\nrollback pins:")
		for _, p := range o.Pins {
			what := p.CertName
			if p.Unit != "" {
				what = p.Unit + " (" + p.BundleCertName + ")"
			}
			if p.State == PinProblem {
				what = p.Key
			}
			fmt.Fprintf(w, "  %s %s: %s\n", p.State, what, p.Message)
			if p.Hint != "" {
				fmt.Fprintf(w, "    what to do: %s\n", p.Hint)
			}
		}
	}
	if len(o.Expiring) > 0 {
		fmt.Fprintln(w, "\nexpiring with no newer bundle in the bucket:")
		for _, e := range o.Expiring {
			fmt.Fprintf(w, "  %-10s %-36s %s, %d day(s) left (%s)\n", e.Product, e.Domain, e.CertName, e.DaysLeft, e.NotAfter)
			if e.Pinned != "" {
				fmt.Fprintf(w, "    pinned by a rollback (%s): release it, or upload a certificate issued after it\n", e.Pinned)
			}
		}
	}
	verdict := strings.ToUpper(o.status())
	_, err := fmt.Fprintf(w, "\ninvocation %s\n", verdict)
	return err
}
