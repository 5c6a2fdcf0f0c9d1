package renew

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/libdns/libdns"

	"github.com/certdrop/certdrop/internal/testutil"
	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/manifest"
)

// echoingProvider fails every call with a message that echoes its token,
// as a DNS provider's error might.
type echoingProvider struct{ token string }

func (p echoingProvider) AppendRecords(context.Context, string, []libdns.Record) ([]libdns.Record, error) {
	return nil, errors.New("401: bad token " + p.token)
}

func (p echoingProvider) DeleteRecords(context.Context, string, []libdns.Record) ([]libdns.Record, error) {
	return nil, errors.New("401: bad token " + p.token)
}

// TestLogsScrubbed: the provider's errors reach the logs through the
// solver and through acmez's logger (a failed clean-up), not only through
// the results; the engine's secrets and key PEM are scrubbed there too.
func TestLogsScrubbed(t *testing.T) {
	const token = "cf-token-0123456789"
	const keyLine = "MHcCAQEEIDeadBeefKeyMaterial"
	var logs testutil.Buffer
	e, err := New(Options{Store: nilStore{}, Providers: func(context.Context, manifest.Certificate) (Provider, error) { return nil, nil },
		Getenv: func(k string) string { return map[string]string{"CF": token}[k] },
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range secretVars(manifest.Certificate{DNS: manifest.DNS{APITokenEnv: "CF"}}) {
		e.addSecret(e.getenv(n))
	}
	log := e.log.With("certificate", "example.com", "token", token)
	s := &dnsSolver{provider: echoingProvider{token}, log: log, cleanup: DefaultCleanupTimeout}
	if err := s.remove(context.Background(), &presented{fqdn: "_acme-challenge.example.com.", zone: "example.com.", value: "v"}); err == nil {
		t.Fatal("remove succeeded")
	}
	pemText := "-----BEGIN EC PRIVATE KEY-----\n" + keyLine + "\n-----END EC PRIVATE KEY-----"
	acmeLogger(log).Error("cleaning up solver "+token, "error", errors.New("echo "+token),
		slog.Group("details", slog.String("key", pemText)), "stringer", stringer(token))

	out := logs.String()
	if strings.Count(out, "\n") != 2 {
		t.Fatalf("want two log lines, got:\n%s", out)
	}
	if strings.Contains(out, token) || strings.Contains(out, keyLine) {
		t.Errorf("a secret reached the logs:\n%s", out)
	}
	if !strings.Contains(out, bundle.Redacted) || !strings.Contains(out, "example.com") {
		t.Errorf("the log lines lost what they say:\n%s", out)
	}
}

type stringer string

func (s stringer) String() string { return "stringer " + string(s) }
