package bundle_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/bundle/internal/testpki"
)

// legoFiles returns the files lego writes for one domain into its shared
// certificates/ folder: <d>.crt (leaf and chain), <d>.issuer.crt, <d>.key
// (SEC1 for an EC key). The .json file is not a bundle part.
func legoFiles(t *testing.T, leaf, issuer *testpki.Cert) map[string][]byte {
	t.Helper()
	d := leaf.Cert.DNSNames[0]
	return map[string][]byte{
		d + ".crt":        pemOf(leaf, issuer),
		d + ".issuer.crt": pemOf(issuer),
		d + ".key":        keyPEM(t, leaf.Key, testpki.SEC1),
	}
}

// folder turns files into sources in name order, as a directory reads.
func folder(files ...map[string][]byte) []bundle.Source {
	var srcs []bundle.Source
	for _, fs := range files {
		for n, d := range fs {
			srcs = append(srcs, bundle.Source{Name: n, Data: d})
		}
	}
	slices.SortFunc(srcs, func(a, b bundle.Source) int { return strings.Compare(a.Name, b.Name) })
	return srcs
}

func without(srcs []bundle.Source, names ...string) []bundle.Source {
	return slices.DeleteFunc(slices.Clone(srcs), func(s bundle.Source) bool { return slices.Contains(names, s.Name) })
}

// summary renders a Folder as lines that a test compares whole: each
// bundle (leaf name: sources), each rejection (source: sentinel,
// incomplete or not), the unused sources.
func summary(f *bundle.Folder) string {
	var lines []string
	for _, b := range f.Bundles {
		lines = append(lines, "bundle "+b.Leaf.DNSNames[0]+": "+strings.Join(b.Sources, " ")+" chain "+subjects(b.Chain()))
	}
	for _, e := range f.Rejected {
		kind := "permanent"
		if bundle.IsIncomplete(e) {
			kind = "incomplete"
		}
		lines = append(lines, "rejected "+e.Source+": "+e.Err.Error()+" ("+kind+")")
	}
	for _, u := range f.Unused {
		lines = append(lines, "unused "+u)
	}
	return strings.Join(lines, "\n")
}

func TestSplit(t *testing.T) {
	p := fixture(t)
	com := issue(t, testpki.Spec{CN: "example.com", DNS: []string{"example.com", "www.example.com"}}, p.inter1)
	org := issue(t, testpki.Spec{CN: "example.org", DNS: []string{"example.org"}}, p.inter1)
	net := issue(t, testpki.Spec{CN: "deep.example.net", DNS: []string{"deep.example.net"}}, p.inter2)
	renewedCom := issue(t, testpki.Spec{CN: "example.com", DNS: []string{"example.com", "www.example.com"},
		NotBefore: testpki.DefaultNotBefore.AddDate(0, 2, 0)}, p.inter1)
	expiredOrg := issue(t, testpki.Spec{CN: "example.org", DNS: []string{"example.org"},
		NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)}, p.inter1)
	lego := folder(legoFiles(t, com, p.inter1), legoFiles(t, org, p.inter1))
	const (
		comChain = " chain example.com > Test Intermediate CA 1"
		orgChain = " chain example.org > Test Intermediate CA 1"
	)

	tests := []struct {
		name     string
		srcs     []bundle.Source
		want     string
		warnings []string
	}{
		{
			name: "lego folder of two domains",
			srcs: lego,
			want: "bundle example.com: example.com.crt example.com.issuer.crt example.com.key" + comChain + "\n" +
				"bundle example.org: example.org.crt example.org.issuer.crt example.org.key" + orgChain,
		},
		{
			name: "lego folder, three domains under two intermediates",
			srcs: folder(legoFiles(t, com, p.inter1), legoFiles(t, org, p.inter1), map[string][]byte{
				"deep.example.net.crt": pemOf(net, p.inter2, p.inter1), "deep.example.net.issuer.crt": pemOf(p.inter2, p.inter1),
				"deep.example.net.key": keyPEM(t, net.Key, testpki.PKCS8),
			}),
			want: "bundle deep.example.net: deep.example.net.crt deep.example.net.issuer.crt deep.example.net.key chain deep.example.net > Test Intermediate CA 2 > Test Intermediate CA 1\n" +
				"bundle example.com: example.com.crt example.com.issuer.crt example.com.key" + comChain + "\n" +
				"bundle example.org: example.org.crt example.org.issuer.crt example.org.key" + orgChain,
		},
		{
			name: "combined files (certdrop renew's bundle.pem) name each file once",
			srcs: []bundle.Source{
				{Name: "com/bundle.pem", Data: append(pemOf(com, p.inter1), keyPEM(t, com.Key, testpki.PKCS8)...)},
				{Name: "org/bundle.pem", Data: append(pemOf(org, p.inter1), keyPEM(t, org.Key, testpki.PKCS8)...)},
			},
			want: "bundle example.com: com/bundle.pem" + comChain + "\n" +
				"bundle example.org: org/bundle.pem" + orgChain,
		},
		{
			name: "a key still uploading: its leaf waits, and its issuer file is not lent to another bundle",
			srcs: without(lego, "example.org.key"),
			want: "bundle example.com: example.com.crt example.com.issuer.crt example.com.key" + comChain + "\n" +
				"rejected example.org.crt: no private key (incomplete)\n" +
				"unused example.org.issuer.crt",
		},
		{
			name: "a certificate still uploading: its key waits",
			srcs: without(lego, "example.org.crt"),
			want: "bundle example.com: example.com.crt example.com.issuer.crt example.com.key" + comChain + "\n" +
				"rejected example.org.key: no certificate (incomplete)\n" +
				"unused example.org.issuer.crt",
		},
		{
			name: "a damaged file is blamed, the other bundles go on",
			srcs: append(without(lego, "example.org.key"), bundle.Source{Name: "example.org.key", Data: []byte("-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n")}),
			want: "bundle example.com: example.com.crt example.com.issuer.crt example.com.key" + comChain + "\n" +
				"rejected example.org.key: malformed PEM or DER (permanent)\n" +
				"rejected example.org.crt: no private key (incomplete)\n" +
				"unused example.org.issuer.crt",
		},
		{
			name: "one file holding a key and a certificate that do not match is permanent",
			srcs: append(without(lego, "example.org.key", "example.org.crt"), bundle.Source{Name: "example.org.pem", Data: cat(pemOf(org, p.inter1), keyPEM(t, newKey(t, testpki.P256), testpki.PKCS8))}),
			want: "bundle example.com: example.com.crt example.com.issuer.crt example.com.key" + comChain + "\n" +
				"rejected example.org.pem: private key matches no certificate (permanent)\n" +
				"unused example.org.issuer.crt",
		},
		{
			name: "a pair of files that do not match: two halves of two renewals",
			srcs: folder(map[string][]byte{"fullchain.pem": pemOf(com, p.inter1), "privkey.pem": keyPEM(t, org.Key, testpki.PKCS8)}),
			want: "rejected privkey.pem: no certificate (incomplete)\n" +
				"rejected fullchain.pem: no private key (incomplete)",
		},
		{
			name: "certbot mid-renewal: new cert.pem and privkey.pem, old fullchain.pem and chain.pem",
			srcs: folder(map[string][]byte{"cert.pem": pemOf(renewedCom), "chain.pem": pemOf(p.inter1),
				"fullchain.pem": pemOf(com, p.inter1), "privkey.pem": keyPEM(t, renewedCom.Key, testpki.PKCS8)}),
			want:     "bundle example.com: cert.pem chain.pem privkey.pem" + comChain + "\nunused fullchain.pem",
			warnings: []string{"fullchain.pem: ignored the certificate for example.com without a key: the bundle here has a later one"},
		},
		{
			name:     "an expired leaf without its key is stale, not waited for",
			srcs:     append(slices.Clone(lego), bundle.Source{Name: "old.crt", Data: pemOf(expiredOrg)}),
			want:     "bundle example.com: example.com.crt example.com.issuer.crt example.com.key" + comChain + "\n" + "bundle example.org: example.org.crt example.org.issuer.crt example.org.key" + orgChain + "\nunused old.crt",
			warnings: []string{"old.crt: ignored the certificate for example.org without a key: it expired on 2024-04-01"},
		},
		{
			name: "a rotated intermediate ahead of its leaf is unused",
			srcs: append(slices.Clone(lego), bundle.Source{Name: "next.issuer.crt", Data: pemOf(p.inter2)}),
			want: "bundle example.com: example.com.crt example.com.issuer.crt example.com.key" + comChain + "\n" +
				"bundle example.org: example.org.crt example.org.issuer.crt example.org.key" + orgChain + "\n" +
				"unused next.issuer.crt",
		},
		{
			name: "nothing but text",
			srcs: []bundle.Source{{Name: "README", Data: []byte("This directory contains your keys.\n")}},
			want: "unused README",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := bundle.Split(context.Background(), tt.srcs, p.opts())
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(f); got != tt.want {
				t.Errorf("Split =\n%s\nwant\n%s", got, tt.want)
			}
			if len(f.Warnings) != len(tt.warnings) {
				t.Errorf("warnings = %q, want %d", f.Warnings, len(tt.warnings))
			}
			for i, w := range tt.warnings {
				if i < len(f.Warnings) && !strings.Contains(f.Warnings[i], w) {
					t.Errorf("warning %d = %q, want it to say %q", i, f.Warnings[i], w)
				}
			}
			for _, b := range f.Bundles {
				if err := b.Validate(p.opts()); err != nil {
					t.Errorf("Validate %s: %v", b.Leaf.DNSNames[0], err)
				}
			}
			for _, e := range f.Rejected {
				if msg := e.Error(); leaksKey(msg, com.Key, org.Key) != "" {
					t.Errorf("rejection leaks key material: %s", leaksKey(msg, com.Key, org.Key))
				}
			}
		})
	}
}

func TestFolderOf(t *testing.T) {
	p := fixture(t)
	com := issue(t, testpki.Spec{CN: "example.com", DNS: []string{"example.com"}}, p.inter1)
	org := issue(t, testpki.Spec{CN: "example.org", DNS: []string{"example.org"}}, p.inter1)
	f, err := bundle.Split(context.Background(), without(folder(legoFiles(t, com, p.inter1), legoFiles(t, org, p.inter1)), "example.org.key"), p.opts())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name             string
		bundles, rejects int
	}{
		{"example.com.key", 1, 0},
		{"example.com.issuer.crt", 1, 0},
		{"example.org.crt", 0, 1},
		{"example.org.issuer.crt", 0, 1}, // waits with example.org.crt
		{"elsewhere.pem", 0, 0},
	} {
		bs, rs := f.Of(tt.name)
		if len(bs) != tt.bundles || len(rs) != tt.rejects {
			t.Errorf("Of(%s) = %d bundles, %d rejections; want %d, %d", tt.name, len(bs), len(rs), tt.bundles, tt.rejects)
		}
	}
}

// TestFolderOfWaitingLeaf: certbot's live/ folder before privkey.pem has
// arrived holds the leaf twice (cert.pem, fullchain.pem) and its chain
// (chain.pem). The leaf waits for its key, blamed on cert.pem; each of the
// three files answers that rejection, so an upload of any of them is
// reported waiting, not ignored. A CA certificate of no waiting leaf's
// chain (a rotated intermediate) is still nobody's.
func TestFolderOfWaitingLeaf(t *testing.T) {
	p := fixture(t)
	com := issue(t, testpki.Spec{CN: "example.com", DNS: []string{"example.com"}}, p.inter1)
	for _, tt := range []struct {
		name  string
		files map[string][]byte
		want  map[string]int // rejections Of returns, by file
	}{
		{"certbot live/ without privkey.pem",
			map[string][]byte{"cert.pem": pemOf(com), "chain.pem": pemOf(p.inter1), "fullchain.pem": pemOf(com, p.inter1), "next.pem": pemOf(p.inter2)},
			map[string]int{"cert.pem": 1, "chain.pem": 1, "fullchain.pem": 1, "next.pem": 0}},
		{"fullchain.pem alone",
			map[string][]byte{"fullchain.pem": pemOf(com, p.inter1)},
			map[string]int{"fullchain.pem": 1}},
		{"certbot live/ complete",
			map[string][]byte{"cert.pem": pemOf(com), "chain.pem": pemOf(p.inter1), "fullchain.pem": pemOf(com, p.inter1), "privkey.pem": keyPEM(t, com.Key, testpki.PKCS8)},
			map[string]int{"cert.pem": 0, "chain.pem": 0, "fullchain.pem": 0, "privkey.pem": 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := bundle.Split(context.Background(), folder(tt.files), p.opts())
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				_, rs := f.Of(name)
				if len(rs) != want {
					t.Errorf("Of(%s) = %d rejections, want %d\n%s", name, len(rs), want, summary(f))
				}
				for _, e := range rs {
					if !errors.Is(e, bundle.ErrNoKey) || !bundle.IsIncomplete(e) {
						t.Errorf("Of(%s) = %v, want an incomplete ErrNoKey", name, e)
					}
				}
			}
		})
	}
}

// TestSplitMatchesParse: for every static bundle folder, Split finds the
// one bundle Parse finds, with the same chain, or rejects what Parse
// rejects with the same sentinel.
func TestSplitMatchesParse(t *testing.T) {
	opts := staticOptions(t)
	for name, want := range staticCases {
		t.Run(name, func(t *testing.T) {
			srcs := readStatic(t, name)
			f, err := bundle.Split(context.Background(), srcs, opts)
			if err != nil {
				t.Fatal(err)
			}
			b, perr := bundle.Parse(srcs, opts)
			switch {
			case want.bundles > 0:
				if len(f.Bundles) != want.bundles || len(f.Rejected) != 0 {
					t.Fatalf("Split =\n%s\nwant %d bundles", summary(f), want.bundles)
				}
			case want.parseErr == bundle.ErrKeyMismatch:
				// Two files that do not match: two halves, both incomplete.
				if len(f.Bundles) != 0 || len(f.Rejected) != 2 || !bundle.IsIncomplete(f.Rejected[0]) || !bundle.IsIncomplete(f.Rejected[1]) {
					t.Fatalf("Split =\n%s\nwant two incomplete halves", summary(f))
				}
				if !bundle.IsIncomplete(perr) {
					t.Errorf("Parse error %v is not incomplete", perr)
				}
			case want.parseErr != nil:
				if len(f.Bundles) != 0 || len(f.Rejected) == 0 || !errors.Is(f.Rejected[0], want.parseErr) {
					t.Fatalf("Split =\n%s\nwant a rejection wrapping %v", summary(f), want.parseErr)
				}
			default:
				if len(f.Bundles) != 1 || len(f.Rejected) != 0 {
					t.Fatalf("Split =\n%s\nwant one bundle", summary(f))
				}
				if perr != nil {
					t.Fatal(perr)
				}
				if got, want := subjects(f.Bundles[0].Chain()), subjects(b.Chain()); got != want {
					t.Errorf("Split chain %s, Parse chain %s", got, want)
				}
			}
		})
	}
}

// TestIncompleteClassification: only half a pair may wait;
// a bundle that can never complete is a failure.
func TestIncompleteClassification(t *testing.T) {
	p := fixture(t)
	key := keyPEM(t, p.rsaKey, testpki.PKCS8)
	foreign := keyPEM(t, p.leafEC.Key, testpki.PKCS8)
	tests := []struct {
		name       string
		srcs       []bundle.Source
		validate   bool
		sentinel   error
		incomplete bool
	}{
		{"certificate without key", one("fullchain.pem", p.leaf.PEM(), p.inter1.PEM()), false, bundle.ErrNoKey, true},
		{"key without certificate", one("privkey.pem", key), false, bundle.ErrNoCertificate, true},
		{"key and certificate files that do not match", []bundle.Source{{Name: "fullchain.pem", Data: pemOf(p.leaf, p.inter1)}, {Name: "privkey.pem", Data: foreign}}, false, bundle.ErrKeyMismatch, true},
		{"one file with a foreign key", one("bundle.pem", p.leaf.PEM(), p.inter1.PEM(), foreign), false, bundle.ErrKeyMismatch, false},
		{"leaf and key files, intermediate not arrived", []bundle.Source{{Name: "cert.pem", Data: pemOf(p.deep)}, {Name: "privkey.pem", Data: keyPEM(t, p.deep.Key, testpki.PKCS8)}}, true, bundle.ErrMissingIntermediate, true},
		{"one file with leaf and key, no intermediate", one("bundle.pem", p.deep.PEM(), keyPEM(t, p.deep.Key, testpki.PKCS8)), true, bundle.ErrMissingIntermediate, false},
		{"two keys", one("bundle.pem", p.leaf.PEM(), key, foreign), false, bundle.ErrMultipleKeys, false},
		{"malformed", one("bundle.pem", []byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n")), false, bundle.ErrMalformed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bundle.Parse(tt.srcs, p.opts())
			if tt.validate {
				if err != nil {
					t.Fatal(err)
				}
				err = b.Validate(p.opts())
			}
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("err = %v, want %v", err, tt.sentinel)
			}
			if got := bundle.IsIncomplete(err); got != tt.incomplete {
				t.Errorf("IsIncomplete = %v, want %v", got, tt.incomplete)
			}
			if got := errors.Is(err, bundle.ErrIncomplete); got != tt.incomplete {
				t.Errorf("errors.Is(err, ErrIncomplete) = %v, want %v", got, tt.incomplete)
			}
		})
	}
}

func TestSplitRefusesOverCaps(t *testing.T) {
	p := fixture(t)
	srcs := make([]bundle.Source, bundle.MaxParts+1)
	for i := range srcs {
		srcs[i] = bundle.Source{Name: "f.pem", Data: nil}
	}
	if _, err := bundle.Split(context.Background(), srcs, p.opts()); !errors.Is(err, bundle.ErrTooLarge) {
		t.Errorf("Split of %d files = %v, want ErrTooLarge", len(srcs), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := bundle.Split(ctx, folder(legoFiles(t, p.leafEC, p.inter1)), p.opts()); !errors.Is(err, context.Canceled) {
		t.Errorf("Split with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := bundle.ParseContext(ctx, one("b.pem", p.leaf.PEM(), keyPEM(t, p.rsaKey, testpki.PKCS8)), p.opts()); !errors.Is(err, context.Canceled) {
		t.Errorf("ParseContext with a canceled context = %v, want context.Canceled", err)
	}
}
