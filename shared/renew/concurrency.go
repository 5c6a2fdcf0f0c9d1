package renew

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/manifest"
)

// EnvConcurrency sets how many certificates are ordered at once: an
// integer from 1 to MaxConcurrency; empty means DefaultConcurrency.
const EnvConcurrency = config.RenewConcurrency

// MaxConcurrency bounds Options.Concurrency: a manifest holds at most
// manifest.MaxCertificates, so more would never run at once.
const MaxConcurrency = manifest.MaxCertificates

// ParseConcurrency reads a CERTDROP_RENEW_CONCURRENCY value: 0 (the
// default) when empty, else an integer from 1 to MaxConcurrency.
func ParseConcurrency(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxConcurrency {
		return 0, fmt.Errorf("%s=%q: want a whole number from 1 to %d (default %d)", EnvConcurrency, s, MaxConcurrency, DefaultConcurrency)
	}
	return n, nil
}
