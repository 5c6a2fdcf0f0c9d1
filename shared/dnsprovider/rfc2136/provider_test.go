package rfc2136

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"

	"github.com/certdrop/certdrop/internal/testutil"
)

const (
	secret      = "c2VjcmV0LXRzaWcta2V5LWZvci10ZXN0cw=="
	wrongSecret = "d3Jvbmctc2VjcmV0LXZhbHVlLWZvci10ZXN0cw=="
)

// TestAgainstBIND writes and removes a TXT record at a real BIND 9, and
// checks what a TSIG typo says: the rcode, the TSIG error, the key name
// and the secret's variable, never the secret.
func TestAgainstBIND(t *testing.T) {
	b := testutil.StartBIND(t, "rfc.test", "certdrop", secret)
	ctx := context.Background()
	rec := []libdns.Record{libdns.TXT{Name: "_acme-challenge.www", TTL: 60, Text: "value-1"}}

	p := &Provider{Server: b.Addr, KeyName: "certdrop", Key: secret, KeyEnv: "CERTDROP_SECRET_TSIG"}
	if _, err := p.AppendRecords(ctx, "rfc.test", rec); err != nil {
		t.Fatalf("append: %v", err)
	}
	if got := b.TXT(t, "_acme-challenge.www.rfc.test"); len(got) != 1 || got[0] != "value-1" {
		t.Fatalf("after append: %v", got)
	}
	if _, err := p.DeleteRecords(ctx, "rfc.test.", rec); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got := b.TXT(t, "_acme-challenge.www.rfc.test"); len(got) != 0 {
		t.Fatalf("after delete: %v", got)
	}

	tests := []struct {
		name      string
		p         Provider
		tsigError uint16
		want      []string
	}{
		{"wrong secret", Provider{KeyName: "certdrop", Key: wrongSecret, KeyEnv: "CERTDROP_SECRET_TSIG"}, dns.RcodeBadSig,
			[]string{"NOTAUTH (9)", "BADSIG (16)", `"certdrop"`, "CERTDROP_SECRET_TSIG"}},
		{"wrong key name", Provider{KeyName: "certdrop-typo.", Key: secret, KeyEnv: "CERTDROP_SECRET_TSIG"}, dns.RcodeBadKey,
			[]string{"NOTAUTH (9)", "BADKEY (17)", `"certdrop-typo"`, "keyName"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.Server = b.Addr
			for _, op := range []func(context.Context, string, []libdns.Record) ([]libdns.Record, error){tt.p.AppendRecords, tt.p.DeleteRecords} {
				_, err := op(ctx, "rfc.test", rec)
				var e *Error
				if !errors.As(err, &e) || e.Rcode != dns.RcodeNotAuth || e.TSIGError != tt.tsigError || !e.Refused() {
					t.Fatalf("err = %#v (%v)", e, err)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%q does not say %q", err, w)
					}
				}
				if strings.Contains(err.Error(), tt.p.Key) {
					t.Errorf("the error holds the secret")
				}
			}
			if got := b.TXT(t, "_acme-challenge.www.rfc.test"); len(got) != 0 {
				t.Errorf("a refused update wrote %v", got)
			}
		})
	}
}

// TestNoAnswer: without an answer nothing is known of the update's fate.
func TestNoAnswer(t *testing.T) {
	p := &Provider{Server: "127.0.0.1:1", KeyName: "k", Key: secret}
	_, err := p.AppendRecords(context.Background(), "rfc.test", []libdns.Record{libdns.TXT{Name: "x", Text: "v"}})
	var e *Error
	if !errors.As(err, &e) || e.Refused() || e.Rcode != 0 {
		t.Fatalf("err = %v", err)
	}
}
