package bundle_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/bundle/internal/testpki"
)

func TestValidateDates(t *testing.T) {
	p := fixture(t)
	nb, na := p.leaf.Cert.NotBefore, p.leaf.Cert.NotAfter
	tests := []struct {
		name     string
		now      time.Time
		warnDays int
		want     error
		msg      []string
		warning  string // a substring of the one warning expected; "" for none
	}{
		{name: "well inside the window", now: testNow},
		{name: "one second before notBefore", now: nb.Add(-time.Second), want: bundle.ErrNotYetValid, msg: []string{"not valid until 2025-01-01T00:00:00Z", "clock"}},
		{name: "at notBefore", now: nb},
		{name: "at notAfter", now: na, warnDays: 14, warning: "expires in 0 day(s)"},
		{name: "one second after notAfter", now: na.Add(time.Second), want: bundle.ErrExpired, msg: []string{"example.com expired on 2045-01-01", "renew"}},
		{name: "13 days left", now: na.Add(-13 * 24 * time.Hour), warnDays: 14, warning: "expires in 13 day(s), on 2045-01-01"},
		{name: "13 days and 1 hour left counts as 14", now: na.Add(-13*24*time.Hour - time.Hour), warnDays: 14},
		{name: "exactly 14 days left", now: na.Add(-14 * 24 * time.Hour), warnDays: 14},
		{name: "WarnDays 30, 20 days left", now: na.AddDate(0, 0, -20), warnDays: 30, warning: "expires in 20 day(s)"},
		{name: "WarnDays 30, 31 days left", now: na.AddDate(0, 0, -31), warnDays: 30},
		{name: "zero WarnDays never warns, as the manifest's warnDays: 0", now: na.Add(-time.Hour)},
		{name: "negative WarnDays never warns", now: na.Add(-time.Hour), warnDays: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bundle.Parse(one("bundle.pem", p.leaf.PEM(), p.inter1.PEM(), keyPEM(t, p.rsaKey, testpki.PKCS8)), p.opts())
			if err != nil {
				t.Fatal(err)
			}
			o := p.opts()
			o.Now = func() time.Time { return tt.now }
			o.WarnDays = tt.warnDays
			err = b.Validate(o)
			if tt.want != nil {
				if err == nil {
					t.Fatal("Validate accepted it")
				}
				checkError(t, err, tt.want, tt.msg, p.rsaKey)
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			switch {
			case tt.warning == "" && len(b.Warnings) != 0:
				t.Errorf("warnings = %q, want none", b.Warnings)
			case tt.warning != "" && (len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0], tt.warning)):
				t.Errorf("warnings = %q, want one saying %q", b.Warnings, tt.warning)
			}
		})
	}
}

func TestDaysLeft(t *testing.T) {
	p := fixture(t)
	na := p.leaf.Cert.NotAfter
	for _, tt := range []struct {
		now  time.Time
		want int
	}{
		{na.Add(-48 * time.Hour), 2},
		{na.Add(-47 * time.Hour), 2},
		{na.Add(-24 * time.Hour), 1},
		{na.Add(-time.Second), 1},
		{na, 0},
		{na.Add(time.Second), -1},
		{na.Add(time.Hour), -1},
		{na.Add(25 * time.Hour), -2},
	} {
		if got := bundle.DaysLeft(p.leaf.Cert, tt.now); got != tt.want {
			t.Errorf("DaysLeft at %s = %d, want %d", tt.now, got, tt.want)
		}
	}
}

// TestDaysLeftFreshCertificate: a fresh 90-day certificate, shaped as
// Let's Encrypt issues them (notBefore backdated an hour, notAfter =
// notBefore + 90 days - 1 s), shows 90 days left, not 89.
func TestDaysLeftFreshCertificate(t *testing.T) {
	issued := time.Date(2030, 3, 1, 10, 0, 0, 0, time.UTC)
	nb := issued.Add(-time.Hour)
	c := issue(t, testpki.Spec{CN: "fresh.example.com", DNS: []string{"fresh.example.com"},
		NotBefore: nb, NotAfter: nb.Add(90*24*time.Hour - time.Second)}, fixture(t).inter1)
	for _, tt := range []struct {
		now  time.Time
		want int
	}{
		{issued, 90},
		{issued.Add(time.Minute), 90},
		{issued.Add(24 * time.Hour), 89},
		{nb.Add(60 * 24 * time.Hour), 30},
	} {
		if got := bundle.DaysLeft(c.Cert, tt.now); got != tt.want {
			t.Errorf("DaysLeft at %s = %d, want %d", tt.now, got, tt.want)
		}
	}
}

// TestValidateTwiceKeepsWarnings: Validate appended its warnings to the
// bundle's each time it ran, so a second call doubled them.
func TestValidateTwiceKeepsWarnings(t *testing.T) {
	p := fixture(t)
	b, err := bundle.Parse(one("b.pem", p.leaf.PEM(), p.inter1.PEM(), p.deep.PEM(), keyPEM(t, p.rsaKey, testpki.PKCS8)), p.opts())
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Warnings) != 1 {
		t.Fatalf("Parse warnings = %q, want the one about the extra certificate", b.Warnings)
	}
	o := p.opts()
	o.WarnDays = 14
	o.Now = func() time.Time { return p.leaf.Cert.NotAfter.Add(-24 * time.Hour) }
	for i := 0; i < 3; i++ {
		if err := b.Validate(o); err != nil {
			t.Fatal(err)
		}
		if len(b.Warnings) != 2 {
			t.Fatalf("after Validate #%d, warnings = %q, want 2 (extra certificate, expiry)", i+1, b.Warnings)
		}
	}
	o.WarnDays = 0
	if err := b.Validate(o); err != nil {
		t.Fatal(err)
	}
	if len(b.Warnings) != 1 {
		t.Fatalf("after Validate without expiry warning, warnings = %q, want only Parse's", b.Warnings)
	}
}

func TestValidateTrust(t *testing.T) {
	p := fixture(t)
	key := keyPEM(t, p.rsaKey, testpki.PKCS8)
	selfKey := newKey(t, testpki.P256)
	self := issue(t, testpki.Spec{CN: "self.example.com", DNS: []string{"self.example.com"}, Key: selfKey}, nil)
	clientOnly := issue(t, testpki.Spec{CN: "client.example.com", DNS: []string{"client.example.com"},
		EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, p.inter1)
	expiredCA := issue(t, testpki.Spec{CN: "Test Expired CA", IsCA: true,
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)}, p.root)
	underExpired := issue(t, testpki.Spec{CN: "old.example.com", DNS: []string{"old.example.com"}}, expiredCA)

	trusted := func(o bundle.Options) bundle.Options { return o }
	none := func(o bundle.Options) bundle.Options { o.Roots = nil; return o }
	allow := func(o bundle.Options) bundle.Options { o.Roots = nil; o.AllowUntrusted = true; return o }
	system := func(o bundle.Options) bundle.Options { o.Roots, o.NoSystemRoots = nil, false; return o }
	tests := []struct {
		name    string
		srcs    []bundle.Source
		opts    func(bundle.Options) bundle.Options
		want    error
		msg     []string
		warning string
	}{
		{name: "chain to a trusted root", srcs: one("b.pem", p.leaf.PEM(), p.inter1.PEM(), key), opts: trusted},
		{name: "root carried in the bundle and trusted", srcs: one("b.pem", p.leaf.PEM(), p.inter1.PEM(), p.root.PEM(), key), opts: trusted},
		{
			name: "root carried in the bundle but not trusted", srcs: one("b.pem", p.leaf.PEM(), p.inter1.PEM(), p.root.PEM(), key), opts: none,
			want: bundle.ErrUntrusted, msg: []string{"unknown authority", "allowUntrusted", "--trust-roots", "CERTDROP_TRUST_ROOTS"},
		},
		{
			name: "private chain against the system roots", srcs: one("b.pem", p.leaf.PEM(), p.inter1.PEM(), p.root.PEM(), key), opts: system,
			want: bundle.ErrUntrusted, msg: []string{"does not verify"},
		},
		{
			name: "allowUntrusted turns it into a warning", srcs: one("b.pem", p.leaf.PEM(), p.inter1.PEM(), p.root.PEM(), key), opts: allow,
			warning: "allowed by allowUntrusted",
		},
		{
			name: "self-signed leaf, untrusted", srcs: one("b.pem", self.PEM(), keyPEM(t, selfKey, testpki.PKCS8)), opts: none,
			want: bundle.ErrUntrusted, msg: []string{"does not verify"},
		},
		{
			name: "self-signed leaf, allowed", srcs: one("b.pem", self.PEM(), keyPEM(t, selfKey, testpki.PKCS8)), opts: allow,
			warning: "allowed by allowUntrusted",
		},
		{
			name: "self-signed leaf passed as a root", srcs: one("b.pem", self.PEM(), keyPEM(t, selfKey, testpki.PKCS8)),
			opts: func(o bundle.Options) bundle.Options { o.Roots = []*x509.Certificate{self.Cert}; return o },
		},
		{
			name: "intermediate passed as the trusted root", srcs: one("b.pem", p.leaf.PEM(), key),
			opts: func(o bundle.Options) bundle.Options { o.Roots = []*x509.Certificate{p.inter1.Cert}; return o },
		},
		{
			name: "leaf not for server authentication", srcs: one("b.pem", clientOnly.PEM(), p.inter1.PEM(), keyPEM(t, clientOnly.Key, testpki.PKCS8)), opts: trusted,
			want: bundle.ErrUntrusted, msg: []string{"key usage"},
		},
		{
			name: "expired intermediate is named", srcs: one("b.pem", underExpired.PEM(), expiredCA.PEM(), keyPEM(t, underExpired.Key, testpki.PKCS8)), opts: trusted,
			want: bundle.ErrUntrusted, msg: []string{"expired", `"Test Expired CA"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts(p.opts())
			b, err := bundle.Parse(tt.srcs, o)
			if err != nil {
				t.Fatal(err)
			}
			err = b.Validate(o)
			if tt.want != nil {
				if err == nil {
					t.Fatal("Validate accepted it")
				}
				checkError(t, err, tt.want, tt.msg, p.rsaKey, selfKey)
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tt.warning == "" && len(b.Warnings) != 0 || tt.warning != "" && (len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0], tt.warning)) {
				t.Errorf("warnings = %q, want %q", b.Warnings, tt.warning)
			}
		})
	}
}

// TestValidateNoDNSNames: a certificate with a CN and no DNS
// SANs covers nothing, and Validate says so instead of letting it through.
func TestValidateNoDNSNames(t *testing.T) {
	p := fixture(t)
	cnOnly := issue(t, testpki.Spec{CN: "cn.example.com"}, p.inter1)
	b, err := bundle.Parse(one("b.pem", cnOnly.PEM(), p.inter1.PEM(), keyPEM(t, cnOnly.Key, testpki.PKCS8)), p.opts())
	if err != nil {
		t.Fatal(err)
	}
	if b.Covers("cn.example.com") {
		t.Error("Covers(its CN) = true, want false")
	}
	checkError(t, b.Validate(p.opts()), bundle.ErrNoNames, []string{`"cn.example.com"`, "names no DNS name", "ignore the subject CN"}, cnOnly.Key)
}

// TestValidateAPILimits: a certificate with 5,000 names is not sent to
// every target to be refused there one by one. What the APIs refuse
// (too many names, too long a certificate) fails Validate, before any call,
// and the message echoes long names shortened.
func TestValidateAPILimits(t *testing.T) {
	p := fixture(t)
	names := func(n int, label string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s.n%d.example.com", label, i)
		}
		return out
	}
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63)
	tests := []struct {
		name string
		dns  []string
		want error
		msg  []string
	}{
		{"MaxNames names", names(bundle.MaxNames, "x"), nil, nil},
		{"one name more", names(bundle.MaxNames+1, "x"), bundle.ErrOverLimit, []string{fmt.Sprintf("names %d DNS names, over the %d", bundle.MaxNames+1, bundle.MaxNames)}},
		{"5,000 names", names(5000, "x"), bundle.ErrOverLimit, []string{"names 5000 DNS names"}},
		{"long names over the size limit", names(bundle.MaxNames, long), bundle.ErrOverLimit, []string{"bytes as PEM, over the 65536 bytes", "TooLong"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := issue(t, testpki.Spec{CN: "big", DNS: tt.dns}, p.inter1)
			b, err := bundle.Parse(one("b.pem", leaf.PEM(), p.inter1.PEM(), keyPEM(t, leaf.Key, testpki.PKCS8)), p.opts())
			if err != nil {
				t.Fatal(err)
			}
			err = b.Validate(p.opts())
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			checkError(t, err, tt.want, tt.msg, leaf.Key)
			if len(err.Error()) > 600 {
				t.Errorf("message is %d bytes: %q", len(err.Error()), err)
			}
		})
	}
}

func TestParseRoots(t *testing.T) {
	p := fixture(t)
	tests := []struct {
		name  string
		data  []byte
		count int
		want  error
	}{
		{name: "one root", data: p.root.PEM(), count: 1},
		{name: "two roots, CRLF, BOM, text between", data: cat([]byte("\xEF\xBB\xBF# private roots\r\n"), crlfOf(p.root.PEM()), []byte("\r\nnext:\r\n"), crlfOf(p.inter1.PEM())), count: 2},
		{name: "non-certificate blocks skipped", data: cat(p.root.PEM(), keyPEM(t, p.leafEC.Key, testpki.PKCS8)), count: 1},
		{name: "empty", data: nil, want: bundle.ErrNoCertificate},
		{name: "only a key", data: keyPEM(t, p.leafEC.Key, testpki.SEC1), want: bundle.ErrNoCertificate},
		{name: "truncated second root is not skipped", data: cat(p.root.PEM(), p.inter1.PEM()[:100]), want: bundle.ErrMalformed},
		{name: "corrupted DER", data: corrupt("CERTIFICATE", p.root.Cert.Raw), want: bundle.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roots, err := bundle.ParseRoots("roots.pem", tt.data)
			if tt.want != nil {
				if err == nil {
					t.Fatalf("ParseRoots accepted it: %d roots", len(roots))
				}
				checkError(t, err, tt.want, []string{"roots.pem"}, p.leafEC.Key)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(roots) != tt.count {
				t.Errorf("got %d roots, want %d", len(roots), tt.count)
			}
		})
	}
}

func TestLoadRoots(t *testing.T) {
	p := fixture(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(path, p.root.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	roots, err := bundle.LoadRoots(path)
	if err != nil || len(roots) != 1 || !roots[0].Equal(p.root.Cert) {
		t.Fatalf("LoadRoots = %d roots, %v; want the test root", len(roots), err)
	}
	if _, err := bundle.LoadRoots(filepath.Join(dir, "missing.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadRoots of a missing file = %v, want os.ErrNotExist", err)
	}
}

func crlfOf(b []byte) []byte { return []byte(strings.ReplaceAll(string(b), "\n", "\r\n")) }

// TestMessagesShortenLongNames: long object keys and
// certificate names are echoed shortened, keeping the file name.
func TestMessagesShortenLongNames(t *testing.T) {
	p := fixture(t)
	longKey := strings.Repeat("folder/", 140) + "fullchain.pem"
	longCN := strings.Repeat("n", 5000)
	cnOnly := issue(t, testpki.Spec{CN: longCN}, p.inter1)
	for _, tt := range []struct {
		name string
		err  func() error
		has  string
	}{
		{"long object key", func() error {
			_, err := bundle.Parse([]bundle.Source{{Name: longKey, Data: p.leaf.PEM()}}, p.opts())
			return err
		}, "fullchain.pem"},
		{"long certificate name", func() error {
			b, err := bundle.Parse(one("b.pem", cnOnly.PEM(), keyPEM(t, cnOnly.Key, testpki.PKCS8)), p.opts())
			if err != nil {
				return err
			}
			return b.Validate(p.opts())
		}, "nnnn…"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if len(msg) > 500 || !strings.Contains(msg, tt.has) || !strings.Contains(msg, "…") {
				t.Errorf("message (%d bytes) should be short, shortened with …, and keep %q: %.300q", len(msg), tt.has, msg)
			}
		})
	}
}
