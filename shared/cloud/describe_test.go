package cloud

import (
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
)

func TestParseInstalled(t *testing.T) {
	b := testBundle(t, "www."+testDomain)
	chain := b.CertPEM()
	fp, notBefore, notAfter := b.Identity().Fingerprint, b.Identity().NotBefore, b.Identity().NotAfter
	info := func(kv ...string) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	wrap := func(items ...any) map[string]any {
		return map[string]any{"RequestId": "R1", "CertInfos": map[string]any{"CertInfo": items}}
	}
	tests := []struct {
		name     string
		body     map[string]any
		certName string
		fp       string
		notAfter time.Time
		https    bool
		// notBefore is checked when set.
		notBefore time.Time
	}{
		{"cdn shape", wrap(info("DomainName", "www.certdrop.test", "CertName", "n", "ServerCertificateStatus", "on",
			"ServerCertificate", chain, "CertExpireTime", "2001-01-01T00:00:00Z", "CertStartTime", "2000-01-01T00:00:00Z")), "n", fp, notAfter, true, notBefore},
		{"live shape", wrap(info("DomainName", "www.certdrop.test", "CertName", "n", "SSLProtocol", "on", "SSLPub", chain)), "n", fp, notAfter, true, notBefore},
		{"CRLF PEM", wrap(info("CertName", "n", "SSLProtocol", "on", "SSLPub", strings.ReplaceAll(chain, "\n", "\r\n"))), "n", fp, notAfter, true, time.Time{}},
		{"no PEM: expiry from CertExpireTime, issue date from CertStartTime", wrap(info("CertName", "n", "ServerCertificateStatus", "on",
			"CertExpireTime", "2030-06-03T22:03:39Z", "CertStartTime", "2029-06-03T22:03:39Z")),
			"n", "", time.Date(2030, 6, 3, 22, 3, 39, 0, time.UTC), true, time.Date(2029, 6, 3, 22, 3, 39, 0, time.UTC)},
		{"masked PEM", wrap(info("CertName", "n", "ServerCertificateStatus", "off", "ServerCertificate", "asdadaxxxx", "CertExpireTime", "2030-06-03 22:03:39")),
			"n", "", time.Date(2030, 6, 3, 22, 3, 39, 0, time.UTC), false, time.Time{}},
		{"the entry for the domain", wrap(info("DomainName", "other.test", "CertName", "wrong"), info("DomainName", "WWW.certdrop.test", "CertName", "right")),
			"right", "", time.Time{}, false, time.Time{}},
		{"a single object, not a list", map[string]any{"RequestId": "R1", "CertInfos": map[string]any{"CertInfo": info("CertName", "n")}}, "n", "", time.Time{}, false, time.Time{}},
		{"no certificate", map[string]any{"RequestId": "R1", "CertInfos": map[string]any{}}, "", "", time.Time{}, false, time.Time{}},
		{"no CertInfos at all", map[string]any{"RequestId": "R1"}, "", "", time.Time{}, false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseInstalled("www.certdrop.test", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if got.CertName != tt.certName || got.Fingerprint != tt.fp || !got.NotAfter.Equal(tt.notAfter) || got.HTTPS != tt.https || got.RequestID != "R1" {
				t.Fatalf("got %+v", got)
			}
			if !tt.notBefore.IsZero() && !got.NotBefore.Equal(tt.notBefore) {
				t.Fatalf("issued %v, want %v", got.NotBefore, tt.notBefore)
			}
		})
	}
	if _, err := parseInstalled("x", map[string]any{"CertInfos": "nonsense"}); err == nil {
		t.Fatal("a CertInfos string was accepted")
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2018, 6, 3, 22, 3, 0, 0, time.UTC)
	for _, s := range []string{"2018-06-03T22:03:00Z", "2018-06-03T22:03Z", "2018-06-03 22:03:00", "1528063380000", "2018-06-04T06:03:00+08:00"} {
		if got, ok := parseTime(s); !ok || !got.Equal(want) {
			t.Errorf("%s: %v %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "soon", "0"} {
		if _, ok := parseTime(s); ok {
			t.Errorf("%q parsed", s)
		}
	}
}

// TestParseTimeListCname reads OSS ListCname's dates in both forms OSS
// writes: a two-digit day (RFC 1123) and a one-digit day, as the OSS SDK's
// own ListCname fixture has it ("Mon, 4 May 2048 10:14:51 GMT").
func TestParseTimeListCname(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{"Mon, 4 May 2048 10:14:51 GMT", time.Date(2048, 5, 4, 10, 14, 51, 0, time.UTC)},
		{"Mon, 04 May 2048 10:14:51 GMT", time.Date(2048, 5, 4, 10, 14, 51, 0, time.UTC)},
		{"Wed, 12 Apr 2023 10:14:51 GMT", time.Date(2023, 4, 12, 10, 14, 51, 0, time.UTC)},
		{"Sat, 1 Jan 2028 00:00:00 GMT", time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		got, ok := parseTime(tt.in)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("%q: got %v %v, want %v", tt.in, got, ok, tt.want)
		}
	}
}

func TestRedactor(t *testing.T) {
	b := testBundle(t, "www."+testDomain)
	key := b.KeyPEM().Reveal()
	lines := strings.Split(strings.TrimSpace(key), "\n")
	r := newRedactor(key, testSK, "", "abc")
	tests := []struct{ in, gone string }{
		{"whole key: " + key, key},
		{"one line: " + lines[1], lines[1]},
		{"secret " + testSK + " in the middle", testSK},
		{"an unknown key " + "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIN\n-----END EC PRIVATE KEY-----", "MHcCAQEEIN"},
		{"a truncated unknown key -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg", "MIIEvQIBADANBg"},
	}
	for _, tt := range tests {
		got := r.scrub(tt.in)
		if strings.Contains(got, tt.gone) || !strings.Contains(got, bundle.Redacted) {
			t.Errorf("scrub left a secret of %d bytes", len(tt.gone))
		}
	}
	if got := r.scrub("abc is short and stays"); got != "abc is short and stays" {
		t.Errorf("short values are not secrets: %q", got)
	}
}

func TestLeakCheckDetectsLeaks(t *testing.T) {
	l := &leakCheck{secrets: map[string]bool{}}
	l.secret("hunter2-secret")
	l.seen(&Error{API: "X", Message: "fine"})
	if found := l.check(); len(found) != 0 {
		t.Fatalf("false positive: %v", found)
	}
	l.seen(&Error{API: "X", Message: "oops hunter2-secret"})
	if found := l.check(); len(found) == 0 {
		t.Fatal("a leak in an error went unnoticed")
	}
	l2 := &leakCheck{secrets: map[string]bool{"hunter2-secret": true}}
	l2.logger().Info("x", "v", "hunter2-secret")
	if found := l2.check(); len(found) == 0 {
		t.Fatal("a leak in a log line went unnoticed")
	}
}
