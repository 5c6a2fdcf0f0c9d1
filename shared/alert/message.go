package alert

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/certdrop/certdrop/shared/report"
)

// Bounds of a message: a few lines, however many problems.
const (
	// MaxNamed is how many subjects a line names; the rest are counted.
	MaxNamed = 3
	// MaxLines is how many lines of problems, recoveries and notes a
	// message holds; the rest are counted, and the status page has them.
	MaxLines = 8
	// maxDetail bounds the detail and the hint a line quotes.
	maxDetail = 200
)

// Context is what a message says besides the problems: the invocation,
// its report, and the status page.
type Context struct {
	Trigger   string
	RequestID string
	// ReportKey is where the invocation's report was written.
	ReportKey string
	// Link is the status page's address; empty when there is none.
	Link string
}

// Message renders what s says as a webhook notice: a title counting the
// new, reminded and recovered problems, then one line per kind of
// problem (its code, how many, the first few named, the detail and what
// to do), per kind recovered, and per note, at most MaxLines; the report
// and the status page end it.
func (s Send) Message(c Context) report.Notice {
	var what []string
	if n := len(s.New); n > 0 {
		what = append(what, fmt.Sprintf("%d new problem(s)", n))
	}
	if n := len(s.Reminders); n > 0 {
		what = append(what, fmt.Sprintf("%d still open after a day", n))
	}
	if n := len(s.Recovered); n > 0 {
		what = append(what, fmt.Sprintf("%d recovered", n))
	}
	if len(what) == 0 && len(s.Notes) > 0 {
		what = append(what, fmt.Sprintf("%d event(s)", len(s.Notes)))
	}
	trigger := c.Trigger
	if trigger == "" {
		trigger = "invocation"
	}
	n := report.Notice{Trigger: c.Trigger, RequestID: c.RequestID, Link: c.Link, Alert: true,
		Title: fmt.Sprintf("certdrop %s %s: %s", trigger, c.RequestID, strings.Join(what, ", "))}
	var lines []string
	for _, g := range groups(s.New, true) {
		lines = append(lines, problemLine("", g))
	}
	for _, g := range groups(s.Reminders, true) {
		lines = append(lines, problemLine("still: ", g))
	}
	for _, g := range groups(s.Recovered, false) {
		lines = append(lines, fmt.Sprintf("recovered: %d %s: %s", len(g), noun(recoveredNoun, g[0].Kind), names(g)))
	}
	lines = append(lines, s.Notes...)
	if len(lines) > MaxLines {
		more := len(lines) - (MaxLines - 1)
		lines = append(lines[:MaxLines-1], fmt.Sprintf("and %d more line(s): see the status page or the report", more))
	}
	if c.ReportKey != "" {
		lines = append(lines, "report: "+c.ReportKey)
	}
	n.Lines = lines
	return n
}

// groups sorts problems by kind, code and subject, and splits them into
// runs of the same kind, and of the same code when byCode.
func groups(ps []Problem, byCode bool) [][]Problem {
	ps = slices.Clone(ps)
	if byCode {
		sortProblems(ps)
	} else {
		slices.SortStableFunc(ps, func(a, b Problem) int {
			return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Subject, b.Subject))
		})
	}
	var out [][]Problem
	for i, p := range ps {
		if i > 0 {
			q := ps[i-1]
			if q.Kind == p.Kind && (!byCode || q.Code == p.Code) {
				out[len(out)-1] = append(out[len(out)-1], p)
				continue
			}
		}
		out = append(out, []Problem{p})
	}
	return out
}

// problemLine says one group: "ServiceUnavailable: 12 target(s): cdn
// a.example.com, cdn b.example.com, cdn c.example.com and 9 more: the
// detail; what to do: the hint".
func problemLine(prefix string, g []Problem) string {
	p := g[0]
	l := fmt.Sprintf("%s%s: %d %s", prefix, p.Code, len(g), noun(problemNoun, p.Kind))
	if p.Kind == KindOverflow {
		l = prefix + p.Code
	}
	if s := names(g); s != "" {
		l += ": " + s
	}
	if p.Detail != "" {
		l += ": " + clip(p.Detail)
	}
	if p.Hint != "" {
		l += "; what to do: " + clip(p.Hint)
	}
	return l
}

// names lists the first MaxNamed subjects of g and counts the rest.
func names(g []Problem) string {
	var ns []string
	for _, p := range g[:min(len(g), MaxNamed)] {
		if p.Subject != "" {
			ns = append(ns, p.Subject)
		}
	}
	s := strings.Join(ns, ", ")
	if len(g) > MaxNamed {
		s += fmt.Sprintf(" and %d more", len(g)-MaxNamed)
	}
	return s
}

func clip(s string) string {
	if r := []rune(s); len(r) > maxDetail {
		return string(r[:maxDetail-1]) + "…"
	}
	return s
}
