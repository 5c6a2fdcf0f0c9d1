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
