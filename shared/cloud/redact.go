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
type redactor struct {
	secrets []string // longest first
}

// newRedactor scrubs the given values; a PEM value is scrubbed whole and
// line by line (a message may quote part of the key body).
func newRedactor(vals ...string) redactor {
	set := map[string]bool{}
	for _, v := range vals {
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
	r := redactor{}
	for v := range set {
		r.secrets = append(r.secrets, v)
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

// scrub returns s without any known secret and without any private-key
// PEM block.
func (r redactor) scrub(s string) string {
	for _, v := range r.secrets {
		s = strings.ReplaceAll(s, v, bundle.Redacted)
	}
	return pemPrivateKey.ReplaceAllString(s, bundle.Redacted)
}
