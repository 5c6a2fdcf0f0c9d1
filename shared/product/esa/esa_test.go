package esa

import (
	"testing"
	"time"
)

// TestStale: only certdrop's own certificates (its name form and the
// certificate's own fingerprint prefix) are ever stale: expired, or
// superseded by a later one of certdrop's for the same names, or by the
// certificate being deployed for the same names.
func TestStale(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ours := func(id, fp string, na time.Time, sans ...string) Cert {
		return Cert{ID: id, Name: "certdrop-www.example.com-" + na.Format("20060102") + "-" + fp[:8], Fingerprint: fp, NotAfter: na, SANs: sans}
	}
	oldOurs := ours("1", "aaaaaaaa11", now.AddDate(0, 1, 0), "www.example.com")
	newOurs := ours("2", "bbbbbbbb22", now.AddDate(0, 3, 0), "www.example.com")
	expired := ours("3", "cccccccc33", now.AddDate(0, 0, -1), "old.example.com")
	other := ours("4", "dddddddd44", now.AddDate(0, 1, 0), "api.example.com")
	forged := Cert{ID: "5", Name: "certdrop-www.example.com-20260701-eeeeeeee", Fingerprint: "ffffffff55", NotAfter: now.AddDate(0, 0, -9), SANs: []string{"www.example.com"}}
	foreign := Cert{ID: "6", Name: "manual", Fingerprint: "0000000066", NotAfter: now.AddDate(0, 0, -9), SANs: []string{"www.example.com"}}
	site := []Cert{oldOurs, newOurs, expired, other, forged, foreign}
	for _, tc := range []struct {
		name     string
		c        Cert
		names    []string
		notAfter time.Time
		stale    bool
	}{
		{"certdrop's, superseded on the site", oldOurs, nil, time.Time{}, true},
		{"certdrop's newest", newOurs, nil, time.Time{}, false},
		{"certdrop's newest, superseded by the one deployed", newOurs, []string{"www.example.com"}, now.AddDate(0, 4, 0), true},
		{"certdrop's newest, not by one for other names", newOurs, []string{"api.example.com"}, now.AddDate(0, 4, 0), false},
		{"certdrop's expired", expired, nil, time.Time{}, true},
		{"certdrop's alone for its names", other, nil, time.Time{}, false},
		{"named like certdrop's, another fingerprint, expired", forged, []string{"www.example.com"}, now.AddDate(0, 4, 0), false},
		{"not certdrop's, expired", foreign, []string{"www.example.com"}, now.AddDate(0, 4, 0), false},
	} {
		if got := Stale(tc.c, site, tc.names, tc.notAfter, now) != ""; got != tc.stale {
			t.Errorf("%s: stale = %v, want %v", tc.name, got, tc.stale)
		}
	}
}

// TestCovers: a wildcard covers one label, no more, and not the apex.
func TestCovers(t *testing.T) {
	c := Cert{SANs: []string{"*.example.com", "example.com"}}
	for name, want := range map[string]bool{"a.example.com": true, "example.com": true, "a.b.example.com": false, "example.org": false} {
		if c.covers(name) != want {
			t.Errorf("covers(%s) = %v", name, !want)
		}
	}
	if c.coversAll(nil) {
		t.Error("no names are not covered")
	}
}
