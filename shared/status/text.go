package status

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// TextOptions tune Text.
type TextOptions struct {
	// PerState caps the rows shown per state (0: all); the rest are
	// counted.
	PerState int
	// Runs is how many of the last runs to list (0: 5).
	Runs int
}

// Text writes the status for a terminal: a summary line, then the targets
// grouped by state, most urgent first, then the ACME renewals and the
// last runs. Names and texts are stripped of control characters.
func Text(w io.Writer, st *Status, o TextOptions) error {
	if o.Runs == 0 {
		o.Runs = 5
	}
	ew := &errWriter{w: w}
	counts := st.Counts()
	var parts []string
	for _, s := range States() {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	fmt.Fprintf(ew, "certdrop status, %s UTC: %d targets", st.GeneratedAt.UTC().Format("2006-01-02 15:04"), len(st.Targets))
	if len(parts) > 0 {
		fmt.Fprintf(ew, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(ew)
	if st.Dropped > 0 {
		fmt.Fprintf(ew, "%d targets beyond the limit are not kept\n", st.Dropped)
	}
	i := 0
	for _, s := range States() {
		if counts[s] == 0 {
			continue
		}
		fmt.Fprintf(ew, "\n%s (%d)\n", strings.ToUpper(s), counts[s])
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		shown := 0
		for ; i < len(st.Targets) && st.Targets[i].State == s; i++ {
			if o.PerState > 0 && shown >= o.PerState {
				continue
			}
			shown++
			t := st.Targets[i]
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", clean(accountProduct(t)), clean(targetName(t)), certText(t.Cert), outcomeText(t), probeText(t))
		}
		_ = tw.Flush()
		if shown < counts[s] {
			fmt.Fprintf(ew, "  … and %d more\n", counts[s]-shown)
		}
	}
	if len(st.Renewals) > 0 {
		fmt.Fprintf(ew, "\nACME RENEWALS (%d)\n", len(st.Renewals))
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, r := range st.Renewals {
			line := fmt.Sprintf("  %s\t%s\texpires %s\tnext due %s", r.State, clean(r.Name), day(r.NotAfter), minute(r.NextDue))
			if r.Failures > 0 {
				line += fmt.Sprintf("\t%d failures, next attempt %s", r.Failures, minute(r.NextAttempt))
			}
			if r.LastError != "" {
				line += "\t" + clean(r.LastError)
			}
			fmt.Fprintln(tw, line)
		}
		_ = tw.Flush()
	}
	if len(st.Runs) > 0 {
		n := min(o.Runs, len(st.Runs))
		fmt.Fprintf(ew, "\nLAST RUNS (%d of %d)\n", n, len(st.Runs))
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, r := range st.Runs[:n] {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", clean(r.Outcome), minute(r.StartedAt), clean(r.Trigger), clean(r.Summary), clean(r.ReportKey))
		}
		_ = tw.Flush()
	}
	return ew.err
}

func targetName(t Target) string {
	s := t.Address
	if t.Bucket != "" {
		s += " (bucket " + t.Bucket + ")"
	}
	return s
}

func certText(c *Cert) string {
	if c == nil {
		return "certificate unknown"
	}
	s := clean(c.Name)
	if !c.NotAfter.IsZero() {
		s += fmt.Sprintf(", expires %s (%d d)", day(c.NotAfter), c.DaysLeft)
	}
	return s
}

func outcomeText(t Target) string {
	s := clean(t.Outcome)
	if !t.OutcomeAt.IsZero() {
		s += " " + minute(t.OutcomeAt)
	}
	if t.Error != "" {
		s += ": " + clean(t.Error)
	}
	return s
}

func probeText(t Target) string {
	p := t.Probe
	if p == nil {
		return "not probed"
	}
	s := "probe " + clean(p.Verdict)
	if p.Name != "" && !strings.EqualFold(p.Name, t.Address) {
		s += " at " + clean(p.Name)
	}
	if p.Served != nil && p.Verdict != "serving" {
		s += fmt.Sprintf(" (serves %s, expires %s)", clean(p.Served.Name), day(p.Served.NotAfter))
	}
	if p.Reason != "" {
		s += ": " + clean(p.Reason)
	}
	return s
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func minute(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// clean replaces control and format characters (escape sequences,
// bidirectional overrides, tabs) so that a hostile name cannot drive the
// terminal or break the columns.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return '?'
		}
		return r
	}, s)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// accountProduct is the target's product, after its account when it is
// not the function's own ("media:cdn").
func accountProduct(t Target) string {
	if t.Account != "" {
		return t.Account + ":" + t.Product
	}
	return t.Product
}
