package manifest

import (
	"fmt"
	"net"
	"strings"
	"unicode"

	"github.com/certdrop/certdrop/shared/bundle"
)

// checkDomain returns the normalised form of a domain written in a
// manifest ("*.example.com" for a wildcard, whether written "*.example.com"
// or CDN-style ".example.com"), or an error saying what is wrong with it in
// words a person who wrote a URL or a host:port can act on.
func checkDomain(d string) (string, error) {
	switch {
	case d == "":
		return "", fmt.Errorf("empty domain name")
	case strings.Contains(d, "://"):
		return "", fmt.Errorf("domain %q is a URL: write the host name only", d)
	case strings.IndexFunc(d, unicode.IsSpace) >= 0:
		return "", fmt.Errorf("domain %q contains white space", d)
	case net.ParseIP(strings.Trim(d, "[]")) != nil:
		return "", fmt.Errorf("%q is an IP address, not a domain name", d)
	case strings.Contains(d, ":"):
		return "", fmt.Errorf("domain %q has a port: write the host name only", d)
	case strings.ContainsAny(d, "/?#"):
		return "", fmt.Errorf("domain %q has a path: write the host name only", d)
	case strings.ContainsAny(d, "\u3002\uff0e\uff61"):
		// IDNA maps these to "." but the schema, and people, would not.
		return "", fmt.Errorf("domain %q separates labels with a dot other than \".\"", d)
	}
	n, err := bundle.NormalizeDomain(d)
	if err != nil {
		return "", err
	}
	// NormalizeDomain refuses a numeric last label; the schema's pattern
	// refuses any last label that does not start with a letter, and so
	// does Parse, so that the two agree.
	if tld := n[strings.LastIndexByte(n, '.')+1:]; tld == "" || tld[0] < 'a' || tld[0] > 'z' {
		return "", fmt.Errorf("invalid domain name %q: the last label must start with a letter", d)
	}
	return n, nil
}
