package pin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/store"
)

var at = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func TestJudge(t *testing.T) {
	p := &Pin{Names: []string{"example.com"}, CertName: "certdrop-example.com-20270101-aaaaaaaa", Fingerprint: "aa11", At: at}
	tests := []struct {
		name      string
		p         *Pin
		fp        string
		notBefore time.Time
		want      Verdict
	}{
		{"no pin", nil, "bb", at.Add(-time.Hour), Free},
		{"the pinned certificate", p, "AA11", at.Add(-48 * time.Hour), Pinned},
		{"issued before the pin", p, "bb", at.Add(-time.Second), Held},
		{"issued at the pin", p, "bb", at, Held},
		{"issued after the pin", p, "bb", at.Add(time.Second), Lifts},
	}
	for _, tt := range tests {
		if got := tt.p.Judge(tt.fp, tt.notBefore); got != tt.want {
			t.Errorf("%s: Judge = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestNamesAndMatches(t *testing.T) {
	if got := Names([]string{"WWW.example.com", "*.Example.com", "www.example.com"}, "cn"); strings.Join(got, ",") != "*.example.com,www.example.com" {
		t.Errorf("Names = %v", got)
	}
	if got := Names(nil, "Example.com"); strings.Join(got, ",") != "example.com" {
		t.Errorf("Names without SANs = %v", got)
	}
	p := &Pin{Names: []string{"*.example.com", "example.com"}, CertName: "certdrop-example.com-20270101-aaaaaaaa"}
	for name, want := range map[string]bool{"Example.com": true, "*.example.com": true, "certdrop-example.com-20270101-aaaaaaaa": true,
		"www.example.com": false, "": false, " ": false} {
		if p.Matches(name) != want {
			t.Errorf("Matches(%q) = %v", name, !want)
		}
	}
	if Key([]string{"a"}) == Key([]string{"b"}) || !strings.HasPrefix(Key([]string{"a"}), Prefix) {
		t.Error("Key does not tell names apart, or is not under Prefix")
	}
}

func TestParse(t *testing.T) {
	good := `{"version":1,"names":["Example.com"],"certName":"c","at":"2026-11-30T10:00:00Z","trigger":"manual"}`
	if p, err := Parse([]byte(good)); err != nil || p.Names[0] != "example.com" {
		t.Fatalf("Parse(good) = %+v, %v", p, err)
	}
	for _, bad := range []struct{ data, want string }{
		{`{"version":2,"names":["a"],"certName":"c","at":"2026-11-30T10:00:00Z"}`, "version 2"},
		{`{"version":1,"names":[],"certName":"c","at":"2026-11-30T10:00:00Z"}`, "no certificate names"},
		{`{"version":1,"names":["a"],"at":"2026-11-30T10:00:00Z"}`, "certName"},
		{`{"version":1,"names":["a"],"certName":"c"}`, "no time"},
		{`{"version":1,"names":["a"],"certName":"c","at":"2026-11-30T10:00:00Z","key":"x"}`, "unknown field"},
		{`{"version":1,"names":["a"],"certName":"c","at":"2026-11-30T10:00:00Z"} {}`, "after the JSON"},
		{`-----BEGIN PRIVATE KEY-----`, "not a pin"},
		{`{"version":1,"names":["` + strings.Repeat("a", MaxSize) + `"]}`, "cap"},
	} {
		_, err := Parse([]byte(bad.data))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Parse(%.50s) = %v; want %q", bad.data, err, bad.want)
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Errorf("Parse echoes its input: %v", err)
		}
	}
}

// TestLoadBounded: Load reads at most MaxPins pins and none over MaxSize;
// a malformed or misfiled pin is a problem, not an error; a pin written by
// Write is read back and deleted by Delete.
func TestLoadBounded(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenDir(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &Pin{Names: []string{"example.com", "*.example.com"}, CertName: "certdrop-example.com-20270101-aaaaaaaa", At: at, Trigger: "manual", RequestID: "r1"}
	key, err := Write(ctx, st, p)
	if err != nil {
		t.Fatal(err)
	}
	put := func(k, data string) {
		if err := st.Put(ctx, k, []byte(data), ""); err != nil {
			t.Fatal(err)
		}
	}
	put(Prefix+"garbage.json", "{")
	put(Prefix+"big.json", strings.Repeat(" ", MaxSize+1))
	put(Prefix+"notes.txt", "x")
	other := &Pin{Version: 1, Names: []string{"other.org"}, CertName: "c", At: at}
	data, _ := other.Marshal()
	put(Prefix+"misfiled.json", string(data))
	set, problems, err := Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if got := set.For(Names([]string{"*.example.com", "example.com"}, "")); got == nil || got.RequestID != "r1" || got.Key() != key {
		t.Errorf("For = %+v; want the pin written", got)
	}
	if len(set.All()) != 1 || len(problems) != 4 {
		t.Errorf("%d pins, problems %v; want 1 pin, 4 problems", len(set.All()), problems)
	}
	for i := 0; i < MaxPins+5; i++ {
		q := &Pin{Names: []string{fmt.Sprintf("h%d.example.com", i)}, CertName: "c", At: at}
		if _, err := Write(ctx, st, q); err != nil {
			t.Fatal(err)
		}
	}
	set, problems, err = Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	over := 0
	for _, pr := range problems {
		if strings.Contains(pr.Err.Error(), fmt.Sprintf("more than %d pins", MaxPins)) {
			over++
		}
	}
	if len(set.All()) > MaxPins || over == 0 {
		t.Errorf("%d pins in force, %d over the count; want at most %d, and the rest reported", len(set.All()), over, MaxPins)
	}
	if err := Delete(ctx, st, key); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, key); err == nil {
		t.Error("the pin is still there after Delete")
	}
	if err := Delete(ctx, st, key); err != nil {
		t.Errorf("deleting a pin twice: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version":1,"names":["example.com"],"certName":"c","at":"2026-11-30T10:00:00Z"}`))
	f.Add([]byte(`{"version":1,"names":["a","A"," b "],"certName":"c","at":"2026-11-30T10:00:00Z","cas":[{"region":"cn-hangzhou","certId":7}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if len(p.Names) == 0 || p.CertName == "" || p.At.IsZero() || p.Version != Version {
			t.Fatalf("accepted an incomplete pin: %+v", p)
		}
		if _, err := p.Marshal(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMatch: a release names the certificate rolled back to or one of its
// names; the others are described, at most max of them.
func TestMatch(t *testing.T) {
	a := &Pin{Names: []string{"a.example.com"}, CertName: "certdrop-a"}
	b := &Pin{Names: []string{"*.b.example.com", "b.example.com"}, CertName: "certdrop-b"}
	c := &Pin{Names: []string{"c.example.com"}, CertName: "certdrop-c"}
	set := &Set{byNames: map[string]*Pin{}}
	for _, p := range []*Pin{a, b, c} {
		set.byNames[strings.Join(p.Names, ",")] = p
	}
	for _, tt := range []struct {
		name    string
		matched []*Pin
		others  int
	}{
		{"certdrop-b", []*Pin{b}, 2},
		{"B.example.com", []*Pin{b}, 2},
		{"nothing.example.com", nil, 2}, // three others, two described
	} {
		matched, others := set.Match(tt.name, 2)
		if !slices.Equal(matched, tt.matched) || len(others) != tt.others {
			t.Errorf("%s: matched %v, others %v", tt.name, matched, others)
		}
	}
	if got := NoMatch("x", []string{"certdrop-a (a.example.com)"}); got != `no rollback pin matches "x"; pinned: certdrop-a (a.example.com)` {
		t.Errorf("NoMatch: %q", got)
	}
	if got := NoMatch("x", nil); !strings.HasSuffix(got, "no rollback is pinned") {
		t.Errorf("NoMatch with no pins: %q", got)
	}
}
