package status

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)

const hostile = `<script>alert(1)</script>.example.com`

func cert(name string, days int) *Cert {
	return &Cert{Name: name, Issuer: "CN=R11,O=Let's Encrypt,C=US", NotAfter: now.Add(time.Duration(days)*24*time.Hour + time.Hour), Fingerprint: strings.Repeat("ab", 32)}
}

// fixture is a fleet after two runs: the previous status and this run's
// update.
func fixture(t *testing.T) *Status {
	t.Helper()
	prev := Merge(nil, Update{
		Run: &Run{ID: "20300228T120000Z-aaaa", Trigger: "timer", StartedAt: now.Add(-24 * time.Hour), Outcome: "ok",
			Summary: "5 deployed", ReportKey: "certdrop/reports/2030-02-28/req-1.json"},
		Targets: []Observation{
			{Product: "cdn", Address: "www.example.com", Outcome: "deployed", Cert: cert("www.example.com", 80),
				Probe: &Probe{Name: "www.example.com", Verdict: "serving", At: now.Add(-24 * time.Hour), Served: cert("www.example.com", 80)}},
			{Product: "cdn", Address: "old.example.com", Outcome: "deployed", Cert: cert("old.example.com", 80)},
			{Product: "vod", Address: "gone.example.com", Outcome: "deployed", Cert: cert("gone.example.com", 80)},
		},
	}, now.Add(-24*time.Hour), Options{})
	return Merge(prev, Update{
		Run: &Run{ID: "20300301T120000Z-bbbb", Trigger: "oss", StartedAt: now.Add(-time.Minute), FinishedAt: now, Outcome: "failed",
			Summary: "3 deployed, 1 failed", ReportKey: "certdrop/reports/2030-03-01/req-2.json"},
		Targets: []Observation{
			{Product: "dcdn", Address: "api.example.com", Outcome: "failed", Error: "Throttling.User: Request was denied due to user flow control.",
				Cert: cert("api.example.com", 40)},
			{Product: "live", Address: "live.example.com", Outcome: "deployed", Cert: cert("live.example.com", 85),
				Probe: &Probe{Name: "live.example.com", Verdict: "stale", At: now, Served: cert("live.example.com", 5)}},
			{Product: "cdn", Address: ".example.com", Names: []string{"*.example.com", "img.example.com"}, Outcome: "unchanged", Cert: cert("*.example.com", 60),
				Probe: &Probe{Name: "img.example.com", Verdict: "other", At: now, Served: &Cert{Name: "someone else", NotAfter: now.Add(200 * 24 * time.Hour)}}},
			{Product: "oss", Address: "static.example.com", Bucket: "assets", Outcome: "deployed", Cert: cert("static.example.com", 85),
				Probe: &Probe{Name: "static.example.com", Verdict: "unreachable", At: now, Reason: "connect: i/o timeout"}},
			{Product: "cdn", Address: hostile, Outcome: "failed", Error: `<img src=x onerror=alert(2)>`},
			{Product: "cdn", Address: "soon.example.com", Outcome: "unchanged", Cert: cert("soon.example.com", 3)},
		},
		Manifest: []Ref{
			{Product: "cdn", Address: "www.example.com"}, {Product: "cdn", Address: "old.example.com"},
			{Product: "dcdn", Address: "api.example.com"}, {Product: "live", Address: "live.example.com"},
			{Product: "cdn", Address: ".example.com"}, {Product: "oss", Address: "static.example.com", Bucket: "assets"},
			{Product: "cdn", Address: hostile}, {Product: "cdn", Address: "soon.example.com"},
			{Product: "vod", Address: "new.example.com"},
		},
		Renewals: []Renewal{
			{Name: "example.com", Names: []string{"example.com", "*.example.com"}, NotAfter: now.Add(20 * 24 * time.Hour), NextDue: now.Add(-time.Hour),
				Failures: 2, NextAttempt: now.Add(4 * time.Hour), LastError: "DNS-01: TXT record not found"},
			{Name: "other.org", NotAfter: now.Add(70 * 24 * time.Hour), NextDue: now.Add(40 * 24 * time.Hour)},
		},
	}, now, Options{})
}

func TestMergeAndOrder(t *testing.T) {
	st := fixture(t)
	var got []string
	for _, tg := range st.Targets {
		got = append(got, tg.State+" "+tg.Product+" "+tg.Address)
	}
	want := []string{
		"failed dcdn api.example.com",    // 40 days left: known days first
		"failed cdn " + hostile,          // nothing known
		"expiring cdn soon.example.com",  // 3 days
		"expiring live live.example.com", // the stale edge serves 5 days
		"other cdn .example.com",         // drift
		"unreachable oss static.example.com",
		"pending vod new.example.com", // in the manifest, no outcome
		"ok cdn old.example.com",      // 80 days, not probed
		"ok cdn www.example.com",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	byAddr := map[string]Target{}
	for _, tg := range st.Targets {
		byAddr[tg.Address] = tg
	}
	// Kept from the previous status: outcome, run, probe.
	w := byAddr["www.example.com"]
	if w.Outcome != "deployed" || w.RunID != "20300228T120000Z-aaaa" || w.Probe == nil || w.Probe.Verdict != "serving" || w.Cert.DaysLeft != 80 {
		t.Errorf("www kept %+v", w)
	}
	if a := byAddr["api.example.com"]; a.RunID != "20300301T120000Z-bbbb" || !a.OutcomeAt.Equal(now) || a.Cert.DaysLeft != 40 {
		t.Errorf("api: %+v", a)
	}
	if _, ok := byAddr["gone.example.com"]; ok {
		t.Error("a target no longer in the manifest is kept")
	}
	if len(st.Runs) != 2 || st.Runs[0].ID != "20300301T120000Z-bbbb" {
		t.Errorf("runs %+v, want newest first", st.Runs)
	}
	if st.Renewals[0].State != "failing" || st.Renewals[1].State != "ok" {
		t.Errorf("renewals %+v", st.Renewals)
	}
}

func TestMergeBounds(t *testing.T) {
	var st *Status
	for i := range MaxRuns + 5 {
		st = Merge(st, Update{Run: &Run{ID: fmt.Sprint("run-", i), StartedAt: now.Add(time.Duration(i) * time.Minute), Outcome: "ok"}}, now, Options{})
	}
	if len(st.Runs) != MaxRuns || st.Runs[0].ID != fmt.Sprint("run-", MaxRuns+4) {
		t.Fatalf("%d runs, first %s", len(st.Runs), st.Runs[0].ID)
	}
	// The same run merged twice is listed once.
	st2 := Merge(st, Update{Run: &st.Runs[0]}, now, Options{})
	if len(st2.Runs) != MaxRuns || st2.Runs[0].ID != st.Runs[0].ID || st2.Runs[1].ID == st2.Runs[0].ID {
		t.Error("a run merged twice is listed twice")
	}
	long := strings.Repeat("é", MaxErrorLen)
	st = Merge(nil, Update{Targets: []Observation{{Product: "cdn", Address: "a.example.com", Outcome: "failed", Error: long,
		Names: make([]string, 3*MaxNames)}}}, now, Options{})
	if e := st.Targets[0].Error; len(e) > MaxErrorLen+len("…") || !strings.HasSuffix(e, "…") || !strings.HasPrefix(e, "é") {
		t.Errorf("error cut to %d bytes", len(e))
	}
	if len(st.Targets[0].Names) != MaxNames {
		t.Errorf("%d names kept", len(st.Targets[0].Names))
	}
}

func TestMergeDoesNotChangePrevious(t *testing.T) {
	prev := fixture(t)
	before, _ := prev.JSON()
	_ = Merge(prev, Update{Targets: []Observation{{Product: "cdn", Address: "www.example.com", Outcome: "failed", Names: []string{"x"},
		Probe: &Probe{Verdict: "other"}}}}, now.Add(time.Hour), Options{})
	after, _ := prev.JSON()
	if !bytes.Equal(before, after) {
		t.Error("Merge changed the previous status")
	}
}

func TestDecode(t *testing.T) {
	st := fixture(t)
	js, err := st.JSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(js)
	if err != nil {
		t.Fatal(err)
	}
	js2, _ := back.JSON()
	if !bytes.Equal(js, js2) {
		t.Error("status.json does not round-trip")
	}
	for _, bad := range []string{"{", `{"version":2}`, `[]`} {
		if _, err := Decode([]byte(bad)); !errors.Is(err, ErrDamaged) {
			t.Errorf("Decode(%s) = %v, want ErrDamaged", bad, err)
		}
	}
	if s, err := Decode(nil); s != nil || err != nil {
		t.Errorf("Decode(nil) = %v, %v", s, err)
	}
}

func TestHTML(t *testing.T) {
	st := fixture(t)
	page, err := HTML(st, HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("CERTDROP_STATUS_PAGE"); out != "" {
		// Written for a person to look at (a browser, a screenshot).
		if err := os.WriteFile(out, page, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := string(page)
	// Rows in urgency order.
	last := -1
	for _, tg := range st.Targets {
		i := strings.Index(s, `<tr class="`+tg.State+`" data-p="`+tg.Product+`"><td>`+tg.State+`<td>`+tg.Product+`<td>`+template_escape(tg.Address))
		if i < 0 || i < last {
			t.Fatalf("row %s %s missing or out of order", tg.State, tg.Address)
		}
		last = i
	}
	for _, want := range []string{
		// The hostile name and error are escaped, never markup.
		"&lt;script&gt;alert(1)&lt;/script&gt;.example.com",
		"&lt;img src=x onerror=alert(2)&gt;",
		// Filters: by product and by state, hidden until the script shows them.
		`<form id="f" hidden>`, `<option>dcdn</option>`, `<option>oss</option>`, `<option>unreachable</option>`,
		`<tr class="unreachable" data-p="oss">`,
		// The runs, linked relative to the page.
		`<a href="../reports/2030-03-01/req-2.json">20300301T120000Z-bbbb</a>`,
		`<a href="../reports/2030-02-28/req-1.json">20300228T120000Z-aaaa</a>`,
		// Renewal state.
		"DNS-01: TXT record not found", "2 failures, next attempt 2030-03-01 16:00",
		"<li class=\"failed\">2 failed</li>", "bucket assets", "*.example.com img.example.com",
		// The stale edge's certificate expires before the one carried.
		"served 2030-03-06, 5 d", "[hidden]{display:none!important}",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(s, "<script>alert") || strings.Contains(s, "<img src=x") {
		t.Error("a hostile name reached the page as markup")
	}
	// Self-contained: one inline script, no external asset.
	if n := strings.Count(s, "<script"); n != 1 {
		t.Errorf("%d script elements, want the one inline", n)
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//|<link|@import|url\(`).MatchString(s) {
		t.Error("the page loads something from elsewhere")
	}
	// A presigned link replaces the relative one.
	page, err = HTML(st, HTMLOptions{ReportURL: func(k string) string { return "https://bucket.example/" + k + "?sig=1&x=2" }})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `href="https://bucket.example/certdrop/reports/2030-03-01/req-2.json?sig=1&amp;x=2"`) {
		t.Error("ReportURL not used")
	}
	// A hostile report key cannot become a script link.
	st.Runs[0].ReportKey = "javascript:alert(3)"
	page, _ = HTML(st, HTMLOptions{ReportURL: func(k string) string { return k }})
	if strings.Contains(string(page), `href="javascript:`) {
		t.Error("a javascript: link reached the page")
	}
}

// template_escape is the escaping html/template gives text.
func template_escape(s string) string {
	r := strings.NewReplacer("<", "&lt;", ">", "&gt;", "&", "&amp;", `"`, "&#34;", "'", "&#39;")
	return r.Replace(s)
}

func TestRelativeLink(t *testing.T) {
	for _, tc := range []struct{ dir, key, want string }{
		{"certdrop/status/", "certdrop/reports/2030/a.json", "../reports/2030/a.json"},
		{"certdrop/status/", "certdrop/status/a.json", "a.json"},
		{"", "r/a b#c.json", "r/a%20b%23c.json"},
		{"x/y/", "z.json", "../../z.json"},
	} {
		if got := relativeLink(tc.dir, tc.key); got != tc.want {
			t.Errorf("relativeLink(%q, %q) = %q, want %q", tc.dir, tc.key, got, tc.want)
		}
	}
}

func TestText(t *testing.T) {
	st := fixture(t)
	st.Targets[0].Error = "bad\x1b[31mred\u202e"
	var b bytes.Buffer
	if err := Text(&b, st, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	if strings.ContainsAny(s, "\x1b\u202e") {
		t.Error("control characters reached the terminal")
	}
	order := []string{"certdrop status, 2030-03-01 12:00 UTC: 9 targets (2 failed, 2 expiring, 1 other, 1 unreachable, 1 pending, 2 ok)",
		"FAILED (2)", "api.example.com", "bad?[31mred?", "EXPIRING (2)", "soon.example.com", "live.example.com",
		"probe stale (serves live.example.com, expires 2030-03-06)", "OTHER (1)", "probe other at img.example.com (serves someone else", "UNREACHABLE (1)", "static.example.com (bucket assets)",
		"connect: i/o timeout", "PENDING (1)", "OK (2)", "ACME RENEWALS (2)", "failing", "DNS-01: TXT record not found",
		"LAST RUNS (2 of 2)", "certdrop/reports/2030-03-01/req-2.json"}
	at := 0
	for _, w := range order {
		i := strings.Index(s[at:], w)
		if i < 0 {
			t.Fatalf("%q missing or out of order in:\n%s", w, s)
		}
		at += i + len(w)
	}
	b.Reset()
	if err := Text(&b, st, TextOptions{PerState: 1}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "… and 1 more") {
		t.Errorf("PerState not applied:\n%s", b.String())
	}
}

// TestMergeAccount: a target's account comes from the run's observation
// or the manifest, and the text names it before the product.
func TestMergeAccount(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	st := Merge(nil, Update{
		Targets:  []Observation{{Account: "media", Product: "cdn", Address: "m.example.com", Outcome: "deployed"}},
		Manifest: []Ref{{Account: "media", Product: "cdn", Address: "m.example.com"}, {Product: "cdn", Address: "own.example.com"}},
	}, now, Options{})
	got := map[string]string{}
	for _, tg := range st.Targets {
		got[tg.Address] = tg.Account
	}
	if got["m.example.com"] != "media" || got["own.example.com"] != "" || len(got) != 2 {
		t.Errorf("accounts: %v", got)
	}
	var b strings.Builder
	if err := Text(&b, st, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "media:cdn") {
		t.Errorf("text:\n%s", b.String())
	}
}

// TestHTMLCertWithoutIssuer: a certificate whose issuer is not known (a
// target only inspected: Describe names no issuer) shows no empty "by".
func TestHTMLCertWithoutIssuer(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	st := Merge(nil, Update{Targets: []Observation{{Product: "cdn", Address: "a.example.com", Outcome: "checked",
		Cert: &Cert{Name: "certdrop-a", NotAfter: now.AddDate(0, 2, 0)}}}}, now, Options{})
	page, err := HTML(st, HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "certdrop-a") || strings.Contains(string(page), "<small>by </small>") {
		t.Errorf("the certificate cell: %s", page[strings.Index(string(page), "certdrop-a")-40:][:120])
	}
}
