package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product/cdn"
)

const (
	longDomain = "a-very-long-subdomain-name-for-the-regional-assets.static-content.example.com"
	longHint   = "the domain is offline: start it in the console (CDN > Domain Names > Enable), then run certdrop again"
)

// wideReport is a run whose rows are wider than a terminal: a long domain,
// a long error with its hint, many names.
func wideReport() *Report {
	p, rs := testRun()
	for i := range 12 {
		p.Bundle.SANs = append(p.Bundle.SANs, strings.Repeat("x", i+3)+".example.com")
	}
	call := plan.Call{Target: manifest.Target{Product: cdn.Name, Domain: longDomain}, API: cdn.SetAPI, DomainName: longDomain}
	p.Calls = append(p.Calls, call)
	rs = append(rs, fanout.Result{Call: call, State: fanout.Failed, Attempts: 1, Duration: 1234 * time.Millisecond,
		Err: &cloud.Error{API: "SetCdnDomainSSLCertificate", Domain: longDomain, Code: "InvalidDomain.Offline",
			Message: "The domain provided is offline.", Hint: longHint, HTTPStatus: 400}})
	return New(Meta{Trigger: TriggerCLI, StartedAt: time.Now()}, p, rs, time.Now())
}

// unwrapped joins the lines of s with single spaces, as wrapped text reads.
func unwrapped(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestWriteTableFitsWidth: at 80 columns (and narrower) no line is wider
// than the terminal, the header stays on one line, long domains are elided
// and long details cut in the table, and every cut detail is printed in
// full under it.
func TestWriteTableFitsWidth(t *testing.T) {
	for _, width := range []int{80, 60, 40} {
		var buf bytes.Buffer
		if err := WriteTableWidth(&buf, wideReport(), width); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for i, line := range strings.Split(out, "\n") {
			if n := utf8.RuneCountInString(line); n >= width {
				t.Errorf("width %d: line %d has %d columns: %q", width, i+1, n, line)
			}
		}
		if !regexp.MustCompile(`\nPRODUCT +DOMAIN +STATE.*\n`).MatchString(out) {
			t.Errorf("width %d: the header is split:\n%s", width, out)
		}
		table, details, ok := strings.Cut(out, "\nDetails:\n")
		if !ok {
			t.Fatalf("width %d: no details under the table:\n%s", width, out)
		}
		if strings.Contains(table, longDomain) || !strings.Contains(table, "…") {
			t.Errorf("width %d: the long domain is not elided:\n%s", width, table)
		}
		if !strings.Contains(unwrapped(details), "InvalidDomain.Offline: The domain provided is offline. → "+longHint) {
			t.Errorf("width %d: the details lack the full hint:\n%s", width, details)
		}
		if !strings.Contains(unwrapped(out), "FAILED: 1 deployed, 1 skipped_newer, 1 not_covered, 2 failed, 1 not_started of 6 target(s)") {
			t.Errorf("width %d: no summary:\n%s", width, out)
		}
		if !strings.Contains(out, "more]") {
			t.Errorf("width %d: the long name list is not shortened:\n%s", width, out)
		}
	}
}

// TestWriteTableNoWidth: off a terminal (width 0) nothing is cut, so that
// a pipe or a file gets every detail on its row.
func TestWriteTableNoWidth(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, wideReport()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, longDomain) || !strings.Contains(out, longHint) || strings.Contains(out, "Details:") || strings.Contains(out, "more]") {
		t.Errorf("a buffer's table is cut:\n%s", out)
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		s      string
		width  int
		indent int
		want   string
	}{
		{"short", 80, 4, "short\n"},
		{"short", 0, 4, "short\n"},
		{"one two three four", 10, 2, "one two\n  three\n  four\n"},
		{"  a: bbbbbbbbbbbbbbbbbbbb cc", 12, 4, "  a:\n    bbbbbbb\n    bbbbbbb\n    bbbbbb\n    cc\n"},
		{"exactly10!", 10, 0, "exactly10\n!\n"},
	}
	for _, tt := range tests {
		if got := wrap(tt.s, tt.width, tt.indent); got != tt.want {
			t.Errorf("wrap(%q, %d, %d) = %q, want %q", tt.s, tt.width, tt.indent, got, tt.want)
		}
	}
}

func TestElideAndCut(t *testing.T) {
	if got := elideMiddle("abcdefghij.example.com", 11); got != "abcde…e.com" {
		t.Errorf("elideMiddle = %q", got)
	}
	if got := elideMiddle("short.com", 20); got != "short.com" {
		t.Errorf("elideMiddle = %q", got)
	}
	if got := cut("InvalidDomain.Offline: offline", 12); got != "InvalidDoma…" {
		t.Errorf("cut = %q", got)
	}
	if got := cut("anything", 0); got != "…" {
		t.Errorf("cut = %q", got)
	}
}

// TestProgressBarFitsWidth: the bar shrinks on a narrow terminal, and only
// the figures remain on a very narrow one.
func TestProgressBarFitsWidth(t *testing.T) {
	s := fanout.Progress{Done: 500, Total: 1000, Throttled: 12, Elapsed: 10 * time.Second}
	for _, width := range []int{80, 50, 30, 20} {
		got := bar(s, width)
		if n := utf8.RuneCountInString(got); n >= width {
			t.Errorf("width %d: %d columns: %q", width, n, got)
		}
		if width >= 50 && !strings.Contains(got, "500/1000") {
			t.Errorf("width %d: %q", width, got)
		}
	}
	if got := bar(s, 0); !strings.HasPrefix(got, "[###############...............] 500/1000") {
		t.Errorf("no width: %q", got)
	}
}
