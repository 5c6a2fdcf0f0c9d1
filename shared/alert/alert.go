// Package alert decides which problems a webhook destination hears of, so
// that people are told of a problem once a day, not once an invocation (a
// failing domain on a 10-minute timer must not page forty times), and of
// its recovery once. A problem is a kind, a subject (a target, a bundle, a
// certificate) and a code; the state remembering what each destination
// was told is one small JSON object in the bucket (StateKey), read before
// the alerts are posted and written after. Decide is pure: given that
// state, the problems of this invocation and the time, it says what to
// send and what to remember.
package alert

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// StateKey is where the state is kept in CERTDROP_BUCKET.
const StateKey = "certdrop/alerts/state.json"

// Bounds of the state and of the decision.
const (
	// RemindAfter is how long a problem still seen goes untold: then the
	// destination hears of it again, once.
	RemindAfter = 24 * time.Hour
	// ForgetAfter drops a problem not seen for this long without a word
	// (a target taken out of the manifest never recovers).
	ForgetAfter = 7 * 24 * time.Hour
	// MaxTracked is how many of an invocation's problems are remembered
	// one by one; the rest are one problem (KindOverflow), told once a day
	// like the others.
	MaxTracked = 1000
	// MaxEntries bounds the state (about 250 bytes an entry): the entries
	// seen longest ago are dropped first.
	MaxEntries = 2 * MaxTracked
)

// Kinds of problem.
const (
	KindTarget   = "target"
	KindExpiring = "expiring"
	KindBundle   = "bundle"
	KindRun      = "run"
	KindReport   = "report"
	KindRenewal  = "renewal"
	KindRecord   = "record"
	KindHeld     = "held"
	KindPin      = "pin"
	KindPrune    = "prune"
	// KindEdge is what a TLS probe found on a target's edge: a
	// certificate certdrop did not set (drift), or a served one expiring.
	KindEdge = "edge"
	// KindStatus is the status page, not written.
	KindStatus = "status"
	// KindOverflow stands for the problems past MaxTracked.
	KindOverflow = "overflow"
)

// What a message says of a count of problems of a kind, and of those
// recovered.
var (
	problemNoun = map[string]string{
		KindTarget: "target(s)", KindExpiring: "target(s) expiring", KindBundle: "bundle(s) refused",
		KindRun: "run(s) failed before any call", KindReport: "report(s) not written", KindRenewal: "renewal(s) failed",
		KindRecord: "DNS record(s) left behind", KindHeld: "bundle(s) held back by a rollback pin",
		KindPin: "rollback pin problem(s)", KindPrune: "CAS certificate(s) not pruned",
		KindEdge: "edge(s) serving a certificate certdrop did not set, or one expiring", KindStatus: "status page(s) not written",
	}
	recoveredNoun = map[string]string{
		KindTarget: "target(s) deployed or found carrying their certificate", KindExpiring: "target(s) no longer expiring",
		KindBundle: "bundle(s) deployed", KindRun: "run(s) started", KindReport: "report(s) written",
		KindRenewal: "renewal(s) through", KindHeld: "bundle(s) no longer held back",
		KindEdge: "edge(s) serving what certdrop set", KindStatus: "status page(s) written",
	}
)

// noun is what a message counts problems of kind as.
func noun(m map[string]string, kind string) string {
	if n, ok := m[kind]; ok {
		return n
	}
	return kind + " problem(s)"
}

// Problem is one thing wrong that people must hear of.
type Problem struct {
	Kind string
	// Subject names what is wrong: "cdn www.example.com", a bundle's
	// folder, a certificate's name.
	Subject string
	// Code says how: the API's error code, or certdrop's.
	Code string
	// Detail is one line about it (the error message); Hint what to do.
	// Neither is part of the problem's identity.
	Detail string
	Hint   string
}

// Key is the problem's identity: kind, subject and code.
func (p Problem) Key() string { return p.Kind + "\x00" + p.Subject + "\x00" + p.Code }

// Thing is the problem's subject with its kind: what a Clear names.
func (p Problem) Thing() string { return Thing(p.Kind, p.Subject) }

// Thing names a subject of a kind, as Observation.Clear lists it.
func Thing(kind, subject string) string { return kind + "\x00" + subject }

// Observation is what one invocation found.
type Observation struct {
	// Problems are what is wrong now.
	Problems []Problem
	// Clear are the things (Thing) this invocation found well: a target
	// deployed or unchanged, a renewal that went through. An open
	// problem of one of them has recovered.
	Clear []string
	// Notes are one-off events a person must hear of whatever the state
	// (a rollback, a pin lifted): said every time they happen.
	Notes []string
}

// Entry is what the state remembers of a problem.
type Entry struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	Code    string `json:"code"`
	// First and Seen are when the problem was first and last seen.
	First time.Time `json:"first"`
	Seen  time.Time `json:"seen"`
	// Told is, by destination name, when it was last told of it.
	Told map[string]time.Time `json:"told,omitempty"`
}

func (e *Entry) problem() Problem { return Problem{Kind: e.Kind, Subject: e.Subject, Code: e.Code} }

// State is what each destination was told: the open problems.
type State struct {
	Version int     `json:"version"`
	Entries []Entry `json:"entries"`
}

// Send is what one destination hears of this invocation.
type Send struct {
	Dest string
	// New are problems it was never told of; Reminders problems told of
	// more than RemindAfter ago and still seen; Recovered problems it was
	// told of that this invocation found well.
	New, Reminders, Recovered []Problem
	Notes                     []string
}

// Empty reports whether there is nothing to say.
func (s Send) Empty() bool {
	return len(s.New)+len(s.Reminders)+len(s.Recovered)+len(s.Notes) == 0
}

// Decision is what to send and what to remember once it is sent.
type Decision struct {
	// Sends are, in the order of the destinations given, those with
	// something to say.
	Sends []Send
	// Next is the state to write when every send was delivered; Undelivered
	// takes back a send that was not.
	Next State
	prev map[string]Entry
	now  time.Time
}

// Decide says what each destination (by name) hears of obs, given the
// state prev and the time now, and what to remember. It is pure.
//
//   - A problem a destination was never told of is new; one it was told of
//     RemindAfter ago or more and still seen is a reminder; otherwise it
//     is not said again.
//   - An open problem whose thing is in obs.Clear, and is not a problem
//     now, has recovered: each destination told of it hears so, once,
//     and it is forgotten. A thing now wrong in another way (another code)
//     replaces its old problem without a recovery.
//   - A problem not seen for ForgetAfter is forgotten without a word.
//   - Past MaxTracked problems, the rest are one KindOverflow problem; the
//     state keeps at most MaxEntries, the most recently seen.
func Decide(prev State, obs Observation, dests []string, now time.Time) Decision {
	cur := track(obs.Problems)
	old := map[string]Entry{}
	for _, e := range prev.Entries {
		old[e.problem().Key()] = e
	}
	d := Decision{prev: old, now: now}
	sends := make([]Send, len(dests))
	for i, name := range dests {
		sends[i] = Send{Dest: name, Notes: obs.Notes}
	}
	next := map[string]*Entry{}
	nowThings := map[string]bool{}
	for _, p := range cur {
		nowThings[p.Thing()] = true
		e := &Entry{Kind: p.Kind, Subject: p.Subject, Code: p.Code, First: now, Told: map[string]time.Time{}}
		if o, ok := old[p.Key()]; ok {
			e.First = o.First
			maps.Copy(e.Told, o.Told)
		}
		e.Seen = now
		for i, name := range dests {
			last, told := e.Told[name]
			switch {
			case !told:
				sends[i].New = append(sends[i].New, p)
			case now.Sub(last) >= RemindAfter:
				sends[i].Reminders = append(sends[i].Reminders, p)
			default:
				continue
			}
			e.Told[name] = now
		}
		next[p.Key()] = e
	}
	clear := map[string]bool{}
	for _, c := range obs.Clear {
		clear[c] = true
	}
	for key, o := range old {
		if _, ok := next[key]; ok {
			continue
		}
		p := o.problem()
		switch {
		case nowThings[p.Thing()]:
			// Wrong in another way now: the new problem is said.
		case clear[p.Thing()]:
			for i, name := range dests {
				if _, told := o.Told[name]; told {
					sends[i].Recovered = append(sends[i].Recovered, p)
				}
			}
		case now.Sub(o.Seen) >= ForgetAfter:
		default:
			e := o
			e.Told = maps.Clone(o.Told)
			next[key] = &e
		}
	}
	for i := range sends {
		sortProblems(sends[i].New)
		sortProblems(sends[i].Reminders)
		sortProblems(sends[i].Recovered)
		if !sends[i].Empty() {
			d.Sends = append(d.Sends, sends[i])
		}
	}
	d.Next = bound(next, dests)
	return d
}

// track dedupes the problems (the first of a key wins) and folds those
// past MaxTracked into one KindOverflow problem.
func track(ps []Problem) []Problem {
	seen := map[string]bool{}
	var out []Problem
	for _, p := range ps {
		if !seen[p.Key()] {
			seen[p.Key()] = true
			out = append(out, p)
		}
	}
	if len(out) <= MaxTracked {
		return out
	}
	// The same ones are tracked from one invocation to the next.
	sortProblems(out)
	rest := len(out) - (MaxTracked - 1)
	return append(out[:MaxTracked-1], Problem{Kind: KindOverflow, Code: "TooManyProblems",
		Detail: fmt.Sprintf("%d more problem(s) than alerts track one by one", rest),
		Hint:   "see the status page or the report for the whole list"})
}

// bound turns the entries into a state: destinations no longer
// configured forgotten, at most MaxEntries kept (the most recently seen),
// in key order.
func bound(next map[string]*Entry, dests []string) State {
	es := make([]Entry, 0, len(next))
	for _, e := range next {
		for name := range e.Told {
			if !slices.Contains(dests, name) {
				delete(e.Told, name)
			}
		}
		es = append(es, *e)
	}
	if len(es) > MaxEntries {
		slices.SortFunc(es, func(a, b Entry) int { return b.Seen.Compare(a.Seen) })
		es = es[:MaxEntries]
	}
	slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.problem().Key(), b.problem().Key()) })
	return State{Version: 1, Entries: es}
}

func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Code, b.Code), strings.Compare(a.Subject, b.Subject))
	})
}

// Undelivered takes back, in d.Next, what the send to dest said: its new
// problems and reminders count as not told (the next invocation says
// them). A recovery not delivered is not said again: the problem is
// gone, and the undelivered message is in the report.
func (d *Decision) Undelivered(dest string) {
	for i := range d.Next.Entries {
		e := &d.Next.Entries[i]
		last, ok := e.Told[dest]
		if !ok || !last.Equal(d.now) {
			continue
		}
		if o, was := d.prev[e.problem().Key()]; was && !o.Told[dest].IsZero() {
			e.Told[dest] = o.Told[dest]
		} else {
			delete(e.Told, dest)
		}
	}
}
