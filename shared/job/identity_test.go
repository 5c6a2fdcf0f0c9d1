package job

import (
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/pin"
)

// The reconcile groups bundles by the names a rollback pin governs, so a
// bundle is held back or lifts a pin exactly when its group is the pin's.
func TestIdentityKeyIsThePinsNames(t *testing.T) {
	tests := []struct {
		name string
		id   bundle.Identity
		want string
	}{
		{"sorted, lower-cased", bundle.Identity{SANs: []string{"WWW.example.com", "example.com"}}, "example.com,www.example.com"},
		{"duplicates", bundle.Identity{SANs: []string{"example.com", "Example.com", "a.example.com"}}, "a.example.com,example.com"},
		{"common name alone", bundle.Identity{CommonName: "Example.com"}, "example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := identityKey(tt.id)
			if got != tt.want {
				t.Errorf("identityKey = %q, want %q", got, tt.want)
			}
			if p := strings.Join(pin.Names(tt.id.SANs, tt.id.CommonName), ","); got != p {
				t.Errorf("identityKey = %q, the pin's names %q", got, p)
			}
		})
	}
}
