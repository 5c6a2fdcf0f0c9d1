package job

import (
	"fmt"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/config"
)

// TestDocumentedDefaults: the defaults shared/config documents in words
// say what this package does.
func TestDocumentedDefaults(t *testing.T) {
	for _, tc := range []struct {
		name, want string
	}{
		{config.SafetyMargin, fmt.Sprintf("at least %g s", MinMargin.Seconds())},
		{config.Manifest, "oss://<" + config.Bucket + ">/" + DefaultManifestKey},
	} {
		v, ok := config.Lookup(tc.name)
		if !ok || !strings.Contains(v.Documented(), tc.want) {
			t.Errorf("%s's default is documented %q, want it to say %q", tc.name, v.Documented(), tc.want)
		}
	}
}
