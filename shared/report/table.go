package report

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/certdrop/certdrop/shared/fanout"
)

// tableAllRows is the most targets a table lists in full; above it, only
// the targets that did not end deployed are listed (the JSON has them all).
const tableAllRows = 50

// Column layout at a fixed width.
const (
	columnGap      = 2  // spaces between columns
	minDomainWidth = 16 // a domain column narrower than this shows too little
	minDetailWidth = 24 // below this, details go only under the table
)

// TerminalWidth returns the width of the terminal w writes to, or 0 when w
// is not a terminal (a file, a pipe, a buffer): no limit.
func TerminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil || width <= 0 {
		return 0
	}
	return width
}

// WriteTable prints the report for a person, fitted to the terminal w
// writes to (see WriteTableWidth); anywhere else lines are not cut.
func WriteTable(w io.Writer, r *Report) error {
	return WriteTableWidth(w, r, TerminalWidth(w))
}

// WriteTableWidth prints the report for a person: a header naming the
// bundle, one row per target, and the summary. With width > 0 every line
// fits in width columns: long domains are elided in the middle, long
// details cut, and each cut detail is then printed in full, wrapped, under
// the table, so that nothing is lost. Width 0 means no limit.
func WriteTableWidth(w io.Writer, r *Report, width int) error {
	b := r.Bundle
	fp := b.Fingerprint
	if len(fp) > 16 {
		fp = fp[:16] + "…"
	}
	mode := ""
	if r.DryRun {
		mode = " DRY RUN (no certificate was set)"
	}
	fmt.Fprint(w, wrap(fmt.Sprintf("run %s (%s)%s", r.RunID, r.Trigger, mode), width, 4))
	fmt.Fprint(w, wrap(fmt.Sprintf("certificate %s [%s], sha256 %s, expires %s",
		b.Subject, sanList(b.SANs, width), fp, b.NotAfter.Format(time.DateOnly)), width, 4))
	for _, c := range r.CAS {
		fmt.Fprint(w, wrap(casLine(c), width, 4))
	}
	fmt.Fprintln(w)

	header := []string{"PRODUCT", "DOMAIN", "STATE", "TRIES", "THROTTLED", "TIME", "DETAIL"}
	var rows [][]string
	hidden := 0
	for _, t := range r.Targets {
		if len(r.Targets) > tableAllRows && t.State == fanout.Deployed {
			hidden++
			continue
		}
		product := string(t.Product)
		if t.Account != "" {
			product = t.Account + ":" + product
		}
		rows = append(rows, []string{product, t.Domain, string(t.State), fmt.Sprint(t.Attempts),
			fmt.Sprint(t.Throttled), (time.Duration(t.DurationMs) * time.Millisecond).String(), detail(t)})
	}
	lay := fitColumns(header, rows, width)
	type note struct{ domain, text string }
	var notes []note
	tw := tabwriter.NewWriter(w, 0, 4, columnGap, ' ', 0)
	line := func(cells []string) {
		var shown []string
		for i, c := range cells {
			if lay.show[i] {
				shown = append(shown, c)
			}
		}
		fmt.Fprintln(tw, strings.TrimRight(strings.Join(shown, "\t"), "\t"))
	}
	line(header)
	for _, row := range rows {
		full, domain := row[colDetail], row[colDomain]
		row[colDomain] = elideMiddle(domain, lay.domain)
		row[colDetail] = cut(full, lay.detail)
		if full != "" && (row[colDetail] != full || !lay.show[colDetail]) {
			// Cut in the table: in full under it.
			notes = append(notes, note{domain, full})
		}
		line(row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if hidden > 0 {
		fmt.Fprint(w, wrap(fmt.Sprintf("(%d deployed targets not listed; --json lists every target)", hidden), width, 1))
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nDetails:")
		for _, n := range notes {
			fmt.Fprint(w, wrap("  "+n.domain+": "+n.text, width, 6))
		}
	}
	_, err := fmt.Fprintf(w, "\n%s", wrap(SummaryLine(r), width, 4))
	return err
}

// Table columns that fitColumns treats apart.
const (
	colDomain = 1
	colDetail = 6
)

// layout is how a table fits a width: the columns shown, and the widths
// of DOMAIN and DETAIL (-1: no limit).
type layout struct {
	show           []bool
	domain, detail int
}

// fitColumns lays the table out in width columns (0: no limit). The short
// columns keep their natural width, and so does DOMAIN when it can; DETAIL
// takes what is left. When that is too little to read, DETAIL is not shown
// (details then go only under the table, in full); when too little is left
// for DOMAIN, TIME, THROTTLED and TRIES are dropped in turn, and a long
// domain is elided.
func fitColumns(header []string, rows [][]string, width int) layout {
	lay := layout{show: make([]bool, len(header)), domain: -1, detail: -1}
	for i := range lay.show {
		lay.show[i] = true
	}
	if width <= 0 {
		return lay
	}
	natural := make([]int, len(header))
	for i, h := range header {
		natural[i] = utf8.RuneCountInString(h)
	}
	for _, row := range rows {
		for i, c := range row {
			natural[i] = max(natural[i], utf8.RuneCountInString(c))
		}
	}
	// avail is what DOMAIN and DETAIL (when shown) may share; one column
	// less than the terminal, as a line exactly as wide wraps on some.
	avail := func() int {
		a, shown := width-1, 0
		for i, n := range natural {
			if !lay.show[i] {
				continue
			}
			shown++
			if i != colDomain && i != colDetail {
				a -= n
			}
		}
		return a - columnGap*(shown-1)
	}
	a := avail()
	if a >= natural[colDomain]+natural[colDetail] {
		return lay
	}
	if a-natural[colDomain] >= minDetailWidth {
		lay.domain, lay.detail = natural[colDomain], a-natural[colDomain]
		return lay
	}
	// DETAIL would be too narrow to read, or squeeze the domains: leave it
	// out (details go under the table, in full).
	lay.show[colDetail] = false
	for _, drop := range []int{5, 4, 3} { // TIME, THROTTLED, TRIES
		if avail() >= min(natural[colDomain], minDomainWidth) {
			break
		}
		lay.show[drop] = false
	}
	lay.domain = min(natural[colDomain], avail())
	lay.domain = max(lay.domain, utf8.RuneCountInString(header[colDomain]))
	return lay
}

// elideMiddle shortens s to n runes by replacing its middle with "…",
// keeping both ends of a domain (the host and the registrable name). A
// negative n means no limit.
func elideMiddle(s string, n int) string {
	r := []rune(s)
	if n < 0 || len(r) <= n {
		return s
	}
	if n < 3 {
		return string(r[:n])
	}
	head := (n - 1) / 2
	tail := n - 1 - head
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// cut shortens s to n runes, ending with "…" when cut; n 0 leaves "…" for
// any text, and a negative n means no limit.
func cut(s string, n int) string {
	r := []rune(s)
	if n < 0 || len(r) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

// wrap breaks s into lines of at most width-1 runes (a line exactly as
// wide as the terminal wraps on some) at spaces, keeping s's leading
// spaces and indenting the continuation lines by indent spaces; a word
// longer than a line is split. Width 0 means no limit. The result ends
// with a newline.
func wrap(s string, width, indent int) string {
	if width <= 0 || utf8.RuneCountInString(s) < width {
		return s + "\n"
	}
	limit := width - 1
	lead := min(len(s)-len(strings.TrimLeft(s, " ")), limit/2)
	indent = min(indent, limit/2)
	var b strings.Builder
	var line []rune
	empty := true // the line holds no word yet
	start := func(n int) {
		line, empty = []rune(strings.Repeat(" ", n)), true
	}
	flush := func() {
		b.WriteString(string(line))
		b.WriteByte('\n')
		start(indent)
	}
	start(lead)
	for _, word := range strings.Fields(s) {
		wr := []rune(word)
		if !empty && len(line)+1+len(wr) > limit {
			flush()
		}
		if !empty {
			line = append(line, ' ')
		}
		for len(line)+len(wr) > limit { // a word longer than a line
			room := limit - len(line)
			line = append(line, wr[:room]...)
			wr = wr[room:]
			flush()
		}
		line = append(line, wr...)
		empty = false
	}
	if !empty {
		b.WriteString(string(line))
		b.WriteByte('\n')
	}
	return b.String()
}

// sanList joins a certificate's names; at a fixed width, a long list is
// cut after the names that fit, saying how many more there are.
func sanList(sans []string, width int) string {
	all := strings.Join(sans, ", ")
	if width <= 0 || utf8.RuneCountInString(all) <= width/2 {
		return all
	}
	var shown []string
	n := 0
	for i, s := range sans {
		rest := fmt.Sprintf(", +%d more", len(sans)-i)
		if i > 0 && n+2+utf8.RuneCountInString(s)+len(rest) > width/2 {
			return strings.Join(shown, ", ") + fmt.Sprintf(" +%d more", len(sans)-i)
		}
		shown = append(shown, s)
		n += 2 + utf8.RuneCountInString(s)
	}
	return all
}

// detail explains a row: the error and its hint, or the later certificate
// a skipped domain carries. An unchanged domain needs none: it carries
// this certificate (the JSON names it).
func detail(t Target) string {
	switch {
	case t.Error != nil:
		s := t.Error.Code + ": " + t.Error.Message
		if t.Error.Hint != "" {
			s += " → " + t.Error.Hint
		}
		return s
	case (t.State == fanout.SkippedNewer || t.State == fanout.Skipped) && t.Note != "":
		return t.Note
	case t.State == fanout.SkippedNewer && t.Previous != nil && t.Previous.NotAfter != nil:
		return fmt.Sprintf("carries %s, expiring %s (later)", t.Previous.CertName, t.Previous.NotAfter.Format(time.DateOnly))
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
		{s.Planned, fanout.Planned}, {s.Skipped, fanout.Skipped}, {s.NotCovered, fanout.NotCovered}, {s.Failed, fanout.Failed},
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

// casLine describes a bundle's certificate in one CAS region.
func casLine(c CASUpload) string {
	if c.Account != "" {
		c.Region = c.Region + " (account " + c.Account + ")"
	}
	switch {
	case c.Error != nil:
		return fmt.Sprintf("CAS %s: %s NOT in CAS: %s: %s (no Set was sent for its %d target(s))", c.Region, c.Name, c.Error.Code, c.Error.Message, c.Targets)
	case c.Uploaded:
		return fmt.Sprintf("CAS %s: %s uploaded, CertId %d (%d target(s) set by reference)", c.Region, c.Name, c.CertID, c.Targets)
	case c.Found:
		return fmt.Sprintf("CAS %s: %s already there, CertId %d, nothing uploaded (%d target(s) by reference)", c.Region, c.Name, c.CertID, c.Targets)
	}
	return fmt.Sprintf("CAS %s: %s would be uploaded (dry run)", c.Region, c.Name)
}
