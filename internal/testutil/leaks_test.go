package testutil

import (
	"errors"
	"testing"
)

// TestLeakCheckDetectsLeaks: a registered secret in an error's rendering,
// in a rendering Renderings adds, or in a log line is found; outputs
// without it are not.
func TestLeakCheckDetectsLeaks(t *testing.T) {
	type hinted struct{ error }
	l := &LeakCheck{Renderings: func(err error) []string {
		var h hinted
		if errors.As(err, &h) {
			return []string{"hint: " + h.error.Error()}
		}
		return nil
	}}
	l.Secret("hunter2-secret", "")
	l.Seen(errors.New("fine"))
	l.Seen(nil)
	if found := l.Check(); len(found) != 0 {
		t.Fatalf("false positive: %v", found)
	}
	l.Seen(errors.New("oops hunter2-secret"))
	if found := l.Check(); len(found) == 0 {
		t.Fatalf("a leak in an error: %v", found)
	}
	l2 := &LeakCheck{}
	l2.Secret("hunter2-secret")
	l2.Logger().Info("x", "v", "hunter2-secret")
	if found := l2.Check(); len(found) == 0 {
		t.Fatalf("a leak in a log line: %v", found)
	}
	l3 := &LeakCheck{Renderings: l.Renderings}
	l3.Secret("hunter2-secret")
	l3.Seen(hinted{errors.New("hunter2-secret")})
	if found := l3.Check(); len(found) == 0 {
		t.Fatal("a leak in an extra rendering went unnoticed")
	}
}

// TestSecretPEM: a key's body line, or its body joined, is found; its
// armour lines are not secrets.
func TestSecretPEM(t *testing.T) {
	line := "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
	key := "-----BEGIN PRIVATE KEY-----\n" + line + "\nAbc=\n-----END PRIVATE KEY-----\n"
	for _, out := range []string{"…" + line + "…", line + "Abc=", key} {
		l := &LeakCheck{}
		l.SecretPEM(key)
		l.Seen(errors.New(out))
		if len(l.Check()) == 0 {
			t.Errorf("%q went unnoticed", out)
		}
	}
	l := &LeakCheck{}
	l.SecretPEM(key)
	l.Seen(errors.New("-----BEGIN PRIVATE KEY----- is not a secret, nor is Abc="))
	if found := l.Check(); len(found) != 0 {
		t.Errorf("false positive: %v", found)
	}
}
