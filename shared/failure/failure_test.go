package failure

import "testing"

// TestClassNames: every class has its own name, and the zero value is
// Permanent (an error nobody classified is not retried).
func TestClassNames(t *testing.T) {
	var zero Class
	if zero != Permanent {
		t.Fatalf("the zero Class is %v, want permanent", zero)
	}
	for _, tt := range []struct {
		c    Class
		want string
	}{
		{Permanent, "permanent"}, {Throttled, "throttled"}, {Transient, "transient"},
		{Auth, "auth"}, {Forbidden, "forbidden"}, {Refused, "refused"}, {Class(99), "permanent"},
	} {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("Class(%d).String() = %q, want %q", int(tt.c), got, tt.want)
		}
	}
}
