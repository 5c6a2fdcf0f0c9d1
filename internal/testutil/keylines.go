package testutil

import "strings"

// KeyLines returns the base64 lines of every private-key PEM block in data,
// whether the PEM stands as it is or is escaped inside JSON (an ACME
// account object): the fragments a leak check looks for in logs, outcomes,
// reports and webhooks. Lines shorter than 16 characters are left out, as
// too short to be told from other text.
func KeyLines(data []byte) []string {
	text := strings.ReplaceAll(string(data), `\n`, "\n")
	var out []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(strings.Trim(l, `",`))
		switch {
		case strings.Contains(l, "BEGIN") && strings.Contains(l, "PRIVATE KEY"):
			in = true
		case strings.Contains(l, "END") && strings.Contains(l, "PRIVATE KEY"):
			in = false
		case in && len(l) >= 16:
			out = append(out, l)
		}
	}
	return out
}
