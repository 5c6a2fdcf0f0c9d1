package status

import (
	"bytes"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DefaultPageKey is where the page is written in the bucket.
const DefaultPageKey = "certdrop/status/index.html"

// HTMLOptions tune HTML.
type HTMLOptions struct {
	// PageKey is the page's object key; run links are relative to it.
	// DefaultPageKey when empty.
	PageKey string
	// ReportURL, when set, gives a run's link from its report key
	// (a presigned URL, say) instead of the relative path.
	ReportURL func(reportKey string) string
}

// HTML renders the status as one self-contained page: inline style, a
// few lines of inline script that filter by product and state, no asset
// from anywhere. Without script every row shows, sorted by urgency. The
// filter is kept in the address's fragment ("#p=cdn&s=failed"), so a link
// can open the page filtered.
func HTML(st *Status, o HTMLOptions) ([]byte, error) {
	if o.PageKey == "" {
		o.PageKey = DefaultPageKey
	}
	link := o.ReportURL
	if link == nil {
		dir := o.PageKey[:strings.LastIndex(o.PageKey, "/")+1]
		link = func(k string) string { return relativeLink(dir, k) }
	}
	products := map[string]bool{}
	for _, t := range st.Targets {
		products[t.Product] = true
	}
	counts := st.Counts()
	var summary []stateCount
	for _, s := range States() {
		if counts[s] > 0 {
			summary = append(summary, stateCount{s, counts[s]})
		}
	}
	data := pageData{
		S: st, Products: slices.Sorted(func(yield func(string) bool) {
			for p := range products {
				if !yield(p) {
					return
				}
			}
		}),
		States: States(), Summary: summary,
	}
	funcs := template.FuncMap{
		"link":      func(k string) string { return link(k) },
		"day":       func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"when":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
		"issuer":    issuerName,
		"probeNote": probeNote,
		"servedSooner": func(t Target) *Cert {
			sv := t.served()
			if sv == nil || sv.NotAfter.IsZero() || t.Cert != nil && !t.Cert.NotAfter.IsZero() && !sv.NotAfter.Before(t.Cert.NotAfter) {
				return nil
			}
			return sv
		},
		"certLabel": func(t Target) string {
			if t.Cert == nil || strings.EqualFold(t.Cert.Name, t.Address) {
				return ""
			}
			return t.Cert.Name
		},
		"names": func(t Target) string {
			if len(t.Names) == 0 || len(t.Names) == 1 && strings.EqualFold(t.Names[0], t.Address) {
				return ""
			}
			return strings.Join(t.Names, " ")
		},
	}
	tpl, err := template.New("page").Funcs(funcs).Parse(pageTemplate)
	if err != nil {
		return nil, fmt.Errorf("status: page template: %w", err)
	}
	var b bytes.Buffer
	b.Grow(256 * (len(st.Targets) + 20))
	if err := tpl.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("status: page: %w", err)
	}
	return b.Bytes(), nil
}

// issuerName is the common name of an issuer's distinguished name
// ("CN=R11,O=Let's Encrypt,C=US" is "R11"), or the name as given.
func issuerName(dn string) string {
	for part := range strings.SplitSeq(dn, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "CN="); ok {
			return v
		}
	}
	return dn
}

// probeNote says what a row's probe cell adds to the verdict: the name
// probed when it is not the address, when the probe was not at the
// outcome's time, and what is served when it is not the expected
// certificate.
func probeNote(t Target) string {
	p := t.Probe
	if p == nil {
		return ""
	}
	var parts []string
	if p.Name != "" && !strings.EqualFold(p.Name, t.Address) {
		parts = append(parts, "at "+p.Name)
	}
	if !p.At.Equal(t.OutcomeAt) {
		parts = append(parts, p.At.UTC().Format("2006-01-02 15:04"))
	}
	if c := p.Served; c != nil && p.Verdict != "serving" {
		s := "serves " + c.Name
		if !c.NotAfter.IsZero() {
			s += fmt.Sprintf(", expires %s (%d d)", c.NotAfter.UTC().Format("2006-01-02"), c.DaysLeft)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ")
}

type stateCount struct {
	State string
	N     int
}

type pageData struct {
	S        *Status
	Products []string
	States   []string
	Summary  []stateCount
}

// relativeLink is the path from the page's directory dir ("a/b/") to key,
// each segment escaped.
func relativeLink(dir, key string) string {
	from := strings.Split(strings.TrimSuffix(dir, "/"), "/")
	to := strings.Split(key, "/")
	if dir == "" {
		from = nil
	}
	i := 0
	for i < len(from) && i < len(to)-1 && from[i] == to[i] {
		i++
	}
	var parts []string
	for range from[i:] {
		parts = append(parts, "..")
	}
	for _, s := range to[i:] {
		parts = append(parts, url.PathEscape(s))
	}
	return strings.Join(parts, "/")
}

// pageTemplate: rows leave out optional end tags to keep a 10,000-row
// page small.
const pageTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>certdrop status</title>
<style>
[hidden]{display:none!important}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 1.5em 2em;color:#1d2330;background:#fff}
h1{font-size:1.4em;margin:.8em 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}
.meta{color:#5b6478;margin:0 0 .6em}
.sum{display:flex;flex-wrap:wrap;gap:.4em;padding:0;margin:.4em 0;list-style:none}
.sum li{padding:.15em .6em;border-radius:1em;font-weight:600}
form{margin:.6em 0;display:flex;gap:1em;align-items:center}
select{font:inherit;padding:.1em .3em}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #e3e6ec;vertical-align:top}
th{position:sticky;top:0;background:#f3f5f9;font-weight:600}
tbody tr:nth-child(even){background:#fafbfd}
td:first-child,#t td:nth-child(5),#t td:nth-child(6) small{white-space:nowrap}
small,.m{color:#5b6478}
.e{color:#a11d1d;display:block;max-width:46em;overflow-wrap:anywhere}
li.failed,td.failed,tr.failed>td:first-child{background:#fde2e2;color:#8c1313}
li.expiring,td.expiring,tr.expiring>td:first-child{background:#feebd6;color:#8a4300}
li.other,td.other,tr.other>td:first-child{background:#efe3fb;color:#5d1d8c}
li.stale,td.stale,tr.stale>td:first-child{background:#fdf6c8;color:#6b5800}
li.unreachable,td.unreachable,tr.unreachable>td:first-child{background:#e8e9ee;color:#3c4252}
li.pending,td.pending,tr.pending>td:first-child{background:#e0ecfb;color:#1f4c86}
li.ok,td.ok,tr.ok>td:first-child{background:#def5e3;color:#17622c}
li.due,td.due,tr.due>td:first-child{background:#feebd6;color:#8a4300}
li.failing,td.failing,tr.failing>td:first-child{background:#fde2e2;color:#8c1313}
tr>td:first-child,td.s{font-weight:600}
b.serving{color:#17622c}b.stale{color:#6b5800}b.other{color:#5d1d8c}b.unreachable,b.unprobed{color:#3c4252}
</style></head><body>
<h1>certdrop status</h1>
<p class="meta">Generated {{when .S.GeneratedAt}} UTC · {{len .S.Targets}} targets · expiring: fewer than {{.S.ExpiringDays}} days left{{if .S.Dropped}} · {{.S.Dropped}} targets not shown (limit){{end}}</p>
<ul class="sum">{{range .Summary}}<li class="{{.State}}">{{.N}} {{.State}}</li>{{end}}</ul>
<form id="f" hidden><label>Product <select id="fp"><option value="">all</option>{{range .Products}}<option>{{.}}</option>{{end}}</select></label>
<label>State <select id="fs"><option value="">all</option>{{range .States}}<option>{{.}}</option>{{end}}</select></label><span id="fn" class="m"></span></form>
<h2>Targets</h2>
<table id="t"><thead><tr><th>State<th>Product<th>Target<th>Certificate<th>Expires<th>Last outcome<th>Probe</tr></thead><tbody>
{{range .S.Targets}}<tr class="{{.State}}" data-p="{{.Product}}"><td>{{.State}}<td>{{with .Account}}{{.}}:{{end}}{{.Product}}<td>{{.Address}}{{with .Bucket}} <small>bucket {{.}}</small>{{end}}{{with names .}} <small>{{.}}</small>{{end}}<td>{{if .Cert}}{{with certLabel .}}{{.}} {{end}}{{with .Cert.Issuer}}<small>by {{issuer .}}</small>{{end}}{{else}}<small>unknown</small>{{end}}<td>{{with .Cert}}{{if not .NotAfter.IsZero}}{{day .NotAfter}} <small>{{.DaysLeft}} d</small>{{end}}{{end}}{{with servedSooner .}}<br><small>served {{day .NotAfter}}, {{.DaysLeft}} d</small>{{end}}<td>{{.Outcome}}{{if not .OutcomeAt.IsZero}} <small>{{when .OutcomeAt}}</small>{{end}}{{with .Error}}<span class="e">{{.}}</span>{{end}}<td>{{with .Probe}}<b class="{{.Verdict}}">{{.Verdict}}</b>{{else}}<small>not probed</small>{{end}}{{with probeNote .}} <small>{{.}}</small>{{end}}{{with .Probe}}{{with .Reason}}<span class="e">{{.}}</span>{{end}}{{end}}</tr>
{{end}}</tbody></table>
{{if .S.Renewals}}<h2>ACME renewals</h2>
<table><thead><tr><th>State<th>Certificate<th>Expires<th>Next due<th>Back-off<th>Last error</tr></thead><tbody>
{{range .S.Renewals}}<tr><td class="s {{.State}}">{{.State}}<td>{{.Name}}{{with .Names}} <small>{{range .}}{{.}} {{end}}</small>{{end}}<td>{{if not .NotAfter.IsZero}}{{day .NotAfter}}{{end}}<td>{{if not .NextDue.IsZero}}{{when .NextDue}}{{end}}<td>{{if .Failures}}{{.Failures}} failures, next attempt {{when .NextAttempt}}{{end}}<td>{{with .LastError}}<span class="e">{{.}}</span>{{end}}</tr>
{{end}}</tbody></table>{{end}}
<h2>Last runs</h2>
{{if .S.Runs}}<table><thead><tr><th>Outcome<th>Run<th>Started<th>Trigger<th>Summary</tr></thead><tbody>
{{range .S.Runs}}<tr><td class="s {{.Outcome}}">{{.Outcome}}<td>{{if .ReportKey}}<a href="{{link .ReportKey}}">{{.ID}}</a>{{else}}{{.ID}}{{end}}<td>{{when .StartedAt}}<td>{{.Trigger}}<td>{{.Summary}}</tr>
{{end}}</tbody></table>{{else}}<p class="m">No run recorded.</p>{{end}}
<script>
(function(){var f=document.getElementById("f"),p=document.getElementById("fp"),s=document.getElementById("fs"),n=document.getElementById("fn"),r=document.querySelectorAll("#t tbody tr");
var h=new URLSearchParams(location.hash.slice(1));p.value=h.get("p")||"";s.value=h.get("s")||"";
function go(){var c=0;for(var i=0;i<r.length;i++){var v=(!p.value||r[i].dataset.p===p.value)&&(!s.value||r[i].className===s.value);r[i].hidden=!v;if(v)c++}n.textContent=c+" of "+r.length+" shown";history.replaceState(null,"","#p="+encodeURIComponent(p.value)+"&s="+encodeURIComponent(s.value))}
p.onchange=s.onchange=go;f.hidden=false;go()})();
</script>
</body></html>
`
