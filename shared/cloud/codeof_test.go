package cloud

import (
	"errors"
	"fmt"
	"testing"
)

// apiCoded is an error of another package that says its API code.
type apiCoded struct{}

func (apiCoded) Error() string   { return "refused" }
func (apiCoded) APICode() string { return "Conflict.Lock" }

// TestCodeOf: the code of a *Error or any error saying its APICode,
// wrapped or not; "" for others and nil.
func TestCodeOf(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&Error{Code: "Throttling.User"}, "Throttling.User"},
		{fmt.Errorf("set: %w", &Error{Code: "InvalidDomain.Offline"}), "InvalidDomain.Offline"},
		{fmt.Errorf("wait: %w", apiCoded{}), "Conflict.Lock"},
		{errors.New("plain"), ""},
		{nil, ""},
	} {
		if got := CodeOf(tt.err); got != tt.want {
			t.Errorf("CodeOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
