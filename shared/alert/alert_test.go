package alert

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

func failed(domain, code string) Problem {
	return Problem{Kind: KindTarget, Subject: "cdn " + domain, Code: code, Detail: "the API said no", Hint: "fix it"}
}

// entry is a remembered problem told to the given destinations at told.
func entry(p Problem, first, seen time.Time, told map[string]time.Time) Entry {
	return Entry{Kind: p.Kind, Subject: p.Subject, Code: p.Code, First: first, Seen: seen, Told: told}
}

// said lists what a decision sends: "dest new|reminder|recovered subject code" and notes.
func said(d Decision) []string {
	var out []string
	for _, s := range d.Sends {
		for _, x := range []struct {
			what string
			ps   []Problem
		}{{"new", s.New}, {"reminder", s.Reminders}, {"recovered", s.Recovered}} {
			for _, p := range x.ps {
				out = append(out, fmt.Sprintf("%s %s %s %s", s.Dest, x.what, p.Subject, p.Code))
			}
		}
		for _, n := range s.Notes {
			out = append(out, s.Dest+" note "+n)
		}
	}
	return out
}

// remembered lists the next state: "subject code told-to-dest@hours-after-t0".
func remembered(s State) []string {
	var out []string
	for _, e := range s.Entries {
		var told []string
		for d, at := range e.Told {
			told = append(told, fmt.Sprintf("%s@%g", d, at.Sub(t0).Hours()))
		}
		slices.Sort(told)
		out = append(out, fmt.Sprintf("%s %s %s", e.Subject, e.Code, strings.Join(told, ",")))
	}
	return out
}

func TestDecide(t *testing.T) {
	a, b := failed("a.example.com", "ServiceUnavailable"), failed("b.example.com", "InvalidCertificate")
	at := func(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }
	told := func(h float64, dests ...string) map[string]time.Time {
		m := map[string]time.Time{}
		for _, d := range dests {
			m[d] = at(h)
		}
		return m
	}
	tests := []struct {
		name       string
		prev       []Entry
		obs        Observation
		dests      []string
		now        time.Time
		said       []string
		remembered []string
	}{
		{"a new problem is said to every destination",
			nil, Observation{Problems: []Problem{a}}, []string{"1", "2"}, at(0),
			[]string{"1 new cdn a.example.com ServiceUnavailable", "2 new cdn a.example.com ServiceUnavailable"},
			[]string{"cdn a.example.com ServiceUnavailable 1@0,2@0"}},
		{"the same problem ten minutes later is not said again",
			[]Entry{entry(a, at(0), at(0), told(0, "1"))}, Observation{Problems: []Problem{a}}, []string{"1"}, at(1.0 / 6),
			nil,
			[]string{"cdn a.example.com ServiceUnavailable 1@0"}},
		{"still seen after a day: a reminder, once",
			[]Entry{entry(a, at(0), at(23.9), told(0, "1"))}, Observation{Problems: []Problem{a}}, []string{"1"}, at(24),
			[]string{"1 reminder cdn a.example.com ServiceUnavailable"},
			[]string{"cdn a.example.com ServiceUnavailable 1@24"}},
		{"found well: the recovery is said to whom was told, and forgotten",
			[]Entry{entry(a, at(0), at(1), told(0, "1"))}, Observation{Clear: []string{a.Thing()}}, []string{"1", "2"}, at(2),
			[]string{"1 recovered cdn a.example.com ServiceUnavailable"},
			nil},
		{"not seen, not found well (another bundle's run): kept, nothing said",
			[]Entry{entry(a, at(0), at(1), told(0, "1"))}, Observation{Problems: []Problem{b}}, []string{"1"}, at(2),
			[]string{"1 new cdn b.example.com InvalidCertificate"},
			[]string{"cdn a.example.com ServiceUnavailable 1@0", "cdn b.example.com InvalidCertificate 1@2"}},
		{"not seen for a week: forgotten without a word",
			[]Entry{entry(a, at(0), at(0), told(0, "1"))}, Observation{}, []string{"1"}, at(7 * 24),
			nil, nil},
		{"wrong in another way: the new code is said, the old one dropped without a recovery",
			[]Entry{entry(a, at(0), at(0), told(0, "1"))},
			Observation{Problems: []Problem{failed("a.example.com", "Throttling")}, Clear: []string{a.Thing()}}, []string{"1"}, at(1),
			[]string{"1 new cdn a.example.com Throttling"},
			[]string{"cdn a.example.com Throttling 1@1"}},
		{"a destination added later hears of open problems; the other does not again",
			[]Entry{entry(a, at(0), at(0), told(0, "1"))}, Observation{Problems: []Problem{a}}, []string{"1", "3"}, at(1),
			[]string{"3 new cdn a.example.com ServiceUnavailable"},
			[]string{"cdn a.example.com ServiceUnavailable 1@0,3@1"}},
		{"a destination no longer configured is forgotten",
			[]Entry{entry(a, at(0), at(0), told(0, "1", "4"))}, Observation{Problems: []Problem{a}}, []string{"1"}, at(1),
			nil,
			[]string{"cdn a.example.com ServiceUnavailable 1@0"}},
		{"notes are said every time, with nothing else",
			[]Entry{entry(a, at(0), at(0), told(0, "1"))}, Observation{Problems: []Problem{a}, Notes: []string{"rollback pin lifted"}}, []string{"1"}, at(1),
			[]string{"1 note rollback pin lifted"},
			[]string{"cdn a.example.com ServiceUnavailable 1@0"}},
		{"the same problem twice in one invocation is one",
			nil, Observation{Problems: []Problem{a, a}}, []string{"1"}, at(0),
			[]string{"1 new cdn a.example.com ServiceUnavailable"},
			[]string{"cdn a.example.com ServiceUnavailable 1@0"}},
		{"no destination: nothing said, problems remembered",
			nil, Observation{Problems: []Problem{a}}, nil, at(0),
			nil,
			[]string{"cdn a.example.com ServiceUnavailable "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(State{Version: 1, Entries: tt.prev}, tt.obs, tt.dests, tt.now)
			if got := said(d); !reflect.DeepEqual(got, tt.said) {
				t.Errorf("said %q\nwant %q", got, tt.said)
			}
			if got := remembered(d.Next); !reflect.DeepEqual(got, tt.remembered) {
				t.Errorf("remembered %q\nwant %q", got, tt.remembered)
			}
		})
	}
}

// TestFortyRuns: a domain failing on a 10-minute timer is said once in
// its first day, reminded once after 24 hours, and its recovery said
// once.
func TestFortyRuns(t *testing.T) {
	a := failed("a.example.com", "ServiceUnavailable")
	var st State
	var all []string
	run := func(now time.Time, obs Observation) {
		d := Decide(st, obs, []string{"1"}, now)
		all = append(all, said(d)...)
		st = roundTrip(t, d.Next)
	}
	for i := range 6 * 25 { // 25 hours, every 10 minutes
		run(t0.Add(time.Duration(i)*10*time.Minute), Observation{Problems: []Problem{a}})
	}
	for i := range 3 {
		run(t0.Add(25*time.Hour+time.Duration(i)*10*time.Minute), Observation{Clear: []string{a.Thing()}})
	}
	want := []string{"1 new cdn a.example.com ServiceUnavailable", "1 reminder cdn a.example.com ServiceUnavailable",
		"1 recovered cdn a.example.com ServiceUnavailable"}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("said %q\nwant %q", all, want)
	}
}

// roundTrip writes and reads a state as Save and Load do.
func roundTrip(t *testing.T, s State) State {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out State
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUndelivered: a destination that did not get its message hears of
// the problem (new, or a reminder) on the next invocation; the one that
// got it does not.
func TestUndelivered(t *testing.T) {
	a := failed("a.example.com", "ServiceUnavailable")
	d := Decide(State{}, Observation{Problems: []Problem{a}}, []string{"1", "2"}, t0)
	d.Undelivered("2")
	d2 := Decide(roundTrip(t, d.Next), Observation{Problems: []Problem{a}}, []string{"1", "2"}, t0.Add(10*time.Minute))
	if got, want := said(d2), []string{"2 new cdn a.example.com ServiceUnavailable"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after an undelivered new problem: %q, want %q", got, want)
	}
	// A reminder not delivered stays due.
	d3 := Decide(roundTrip(t, d2.Next), Observation{Problems: []Problem{a}}, []string{"1", "2"}, t0.Add(25*time.Hour))
	d3.Undelivered("1")
	d4 := Decide(roundTrip(t, d3.Next), Observation{Problems: []Problem{a}}, []string{"1", "2"}, t0.Add(25*time.Hour+10*time.Minute))
	if got, want := said(d4), []string{"1 reminder cdn a.example.com ServiceUnavailable"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after an undelivered reminder: %q, want %q", got, want)
	}
}

// TestBounded: thousands of problems are tracked up to MaxTracked, the
// rest as one; the state stays within MaxEntries and a few hundred
// kilobytes; the next invocation with the same problems says nothing.
func TestBounded(t *testing.T) {
	var ps []Problem
	for i := range 3000 {
		ps = append(ps, failed(fmt.Sprintf("site-%04d.customer-domain.example.com", i), "ServiceUnavailable"))
	}
	var old []Entry
	for i := range MaxEntries {
		p := failed(fmt.Sprintf("old-%04d.example.com", i), "Throttling")
		old = append(old, entry(p, t0, t0, map[string]time.Time{"1": t0}))
	}
	now := t0.Add(time.Hour)
	d := Decide(State{Entries: old}, Observation{Problems: ps}, []string{"1"}, now)
	if n := len(d.Sends[0].New); n != MaxTracked {
		t.Errorf("%d new problems said, want %d", n, MaxTracked)
	}
	if n := len(d.Next.Entries); n != MaxEntries {
		t.Errorf("%d entries kept, want %d", n, MaxEntries)
	}
	seenNow := 0
	for _, e := range d.Next.Entries {
		if e.Seen.Equal(now) {
			seenNow++
		}
	}
	if seenNow != MaxTracked {
		t.Errorf("%d of this invocation's problems kept, want all %d", seenNow, MaxTracked)
	}
	data, _ := json.Marshal(d.Next)
	if len(data) > 600<<10 {
		t.Errorf("state of %d bytes", len(data))
	}
	t.Logf("state: %d entries, %d bytes", len(d.Next.Entries), len(data))
	msg := d.Sends[0].Message(Context{Trigger: "timer", RequestID: "r"}).Text()
	if !strings.Contains(msg, "TooManyProblems: 2001 more problem(s) than alerts track one by one") || len(msg) > 2048 {
		t.Errorf("message of %d bytes:\n%s", len(msg), msg)
	}
	d2 := Decide(roundTrip(t, d.Next), Observation{Problems: ps}, []string{"1"}, now.Add(10*time.Minute))
	if got := said(d2); len(got) != 0 {
		t.Errorf("the same problems again: %d said", len(got))
	}
}

// TestMessage: a message counts each kind of problem, names the first
// few, says the detail and what to do, and ends with the report and the
// status page; long lists are cut and counted.
func TestMessage(t *testing.T) {
	s := Send{Dest: "1",
		New: []Problem{failed("a.example.com", "ServiceUnavailable"), failed("b.example.com", "ServiceUnavailable"),
			failed("c.example.com", "ServiceUnavailable"), failed("d.example.com", "ServiceUnavailable"),
			{Kind: KindBundle, Subject: "certs/example.org/", Code: "KeyMismatch", Detail: "the key matches no certificate", Hint: "upload the key"}},
		Reminders: []Problem{{Kind: KindExpiring, Subject: "dcdn img.example.com", Code: "Expiring", Detail: "expires in 5 day(s)"}},
		Recovered: []Problem{failed("e.example.com", "Throttling"), failed("f.example.com", "ServiceUnavailable")},
		Notes:     []string{"rollback pin lifted (example.com): deployed"},
	}
	got := s.Message(Context{Trigger: "timer", RequestID: "req-7", ReportKey: "oss://b/certdrop/reports/2025/03/01/req-7.json",
		Link: "https://b.oss-cn-hangzhou.aliyuncs.com/certdrop/status/index.html"}).Text()
	want := `certdrop timer req-7: 5 new problem(s), 1 still open after a day, 2 recovered
- KeyMismatch: 1 bundle(s) refused: certs/example.org/: the key matches no certificate; what to do: upload the key
- ServiceUnavailable: 4 target(s): cdn a.example.com, cdn b.example.com, cdn c.example.com and 1 more: the API said no; what to do: fix it
- still: Expiring: 1 target(s) expiring: dcdn img.example.com: expires in 5 day(s)
- recovered: 2 target(s) deployed or found carrying their certificate: cdn e.example.com, cdn f.example.com
- rollback pin lifted (example.com): deployed
- report: oss://b/certdrop/reports/2025/03/01/req-7.json
status page: https://b.oss-cn-hangzhou.aliyuncs.com/certdrop/status/index.html
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Many kinds: at most MaxLines lines, the rest counted.
	var many Send
	for i := range 12 {
		many.New = append(many.New, failed("x.example.com", fmt.Sprintf("Code%02d", i)))
	}
	sortProblems(many.New)
	n := many.Message(Context{Trigger: "oss", RequestID: "r"})
	if len(n.Lines) != MaxLines || !strings.Contains(n.Lines[MaxLines-1], "and 5 more line(s)") {
		t.Errorf("lines %q", n.Lines)
	}
}
