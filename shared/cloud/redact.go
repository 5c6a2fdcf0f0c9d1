package cloud

import (
	"regexp"
	"sort"
	"strings"

	"github.com/certdrop/certdrop/shared/bundle"
)

// pemPrivateKey matches a private-key PEM block, or what is left of one.
var pemPrivateKey = regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)`)

// redactor removes known secret values from text that may have echoed
// them: a server message quoting a parameter, a wrapped network error.
// It keeps the values as given and works out what to look for only when
// there is text to scrub, which is on a failure, not on every call.
type redactor struct {
	vals []string
}

// newRedactor scrubs the given values; a PEM value is scrubbed whole and
// line by line (a message may quote part of the key body).
func newRedactor(vals ...string) redactor { return redactor{vals: vals} }

// secrets returns what to look for, longest first: each value, and each
// PEM value's body and body lines.
func (r redactor) secrets() []string {
	set := map[string]bool{}
	for _, v := range r.vals {
		v = strings.TrimSpace(v)
		if len(v) < 4 {
			continue
		}
		set[v] = true
		if strings.Contains(v, "-----BEGIN") {
			var body strings.Builder
			for _, line := range strings.Split(v, "\n") {
				line = strings.TrimSpace(line)
				if strings.HasPrefix(line, "-----") || strings.Contains(line, ":") {
					continue
				}
				body.WriteString(line)
				if len(line) >= 16 {
					set[line] = true
				}
			}
			if body.Len() >= 16 {
				set[body.String()] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// scrub returns s without any known secret and without any private-key
// PEM block.
func (r redactor) scrub(s string) string {
	for _, v := range r.secrets() {
		s = strings.ReplaceAll(s, v, bundle.Redacted)
	}
	return pemPrivateKey.ReplaceAllString(s, bundle.Redacted)
}
