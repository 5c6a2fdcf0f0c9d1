// Package openapidns is what the DNS-01 providers that write records
// through an Alibaba Cloud OpenAPI (alidns, esa) share: the endpoint
// override, the call paced per action and retried by error class, the
// refusal of a write, the zone that holds a name, and the libdns values
// of the records. What differs per API (its actions, parameters and
// answers) stays in the provider's own package.
package openapidns

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/libdns/libdns"
	"golang.org/x/time/rate"

	"github.com/certdrop/certdrop/internal/secureurl"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/failure"
)

// Retry budget: throttled calls were not processed and are retried more
// often than calls that failed for another transient reason.
const (
	maxThrottledAttempts = 10
	maxTransientAttempts = 5
	backoffBase          = 200 * time.Millisecond
	backoffCap           = 10 * time.Second
)

// pace is the share of an action's quota calls are paced at.
const pace = 0.97

// Caller makes one OpenAPI call; *cloud.Client is one.
type Caller interface {
	Call(ctx context.Context, r cloud.Request) (map[string]any, error)
}

// Config describes one API.
type Config struct {
	// Name names the API in errors ("alidns").
	Name string
	// Version is the API version called ("2015-01-09").
	Version string
	// EnvEndpoint is the variable that overrides the endpoint, as a URL;
	// DefaultEndpoint is the endpoint otherwise.
	EnvEndpoint, DefaultEndpoint string
	// Quotas are the actions' calls per second; calls are paced at 97% of
	// these. An action without one is not paced.
	Quotas map[string]float64
	// Settling are error codes retried as transient failures are: the
	// same call succeeds a moment later.
	Settling []string
}

// API makes one API's calls, paced and retried. It is safe for
// concurrent use.
type API struct {
	name, version string
	client        Caller
	endpoint      string
	limiters      map[string]*rate.Limiter
	settling      map[string]bool
}

// New returns the API calling through c, at the endpoint getenv's
// cfg.EnvEndpoint names (https, or http to a loopback host), else
// cfg.DefaultEndpoint.
func New(c Caller, getenv func(string) string, cfg Config) (*API, error) {
	ep := cfg.DefaultEndpoint
	if getenv != nil {
		if raw := getenv(cfg.EnvEndpoint); raw != "" {
			e, err := secureurl.Parse(cfg.EnvEndpoint, raw)
			if err != nil {
				return nil, err
			}
			ep = e.String()
		}
	}
	a := &API{name: cfg.Name, version: cfg.Version, client: c, endpoint: ep,
		limiters: map[string]*rate.Limiter{}, settling: map[string]bool{}}
	for action, q := range cfg.Quotas {
		a.limiters[action] = rate.NewLimiter(rate.Limit(q*pace), 1)
	}
	for _, code := range cfg.Settling {
		a.settling[code] = true
	}
	return a, nil
}

// Endpoint returns the URL calls go to.
func (a *API) Endpoint() string { return a.endpoint }

// Call makes one call, paced and retried: a throttled answer after the
// server's retry hint when it gives one, else with backoff; a transient
// failure or a settling code with backoff; nothing else.
func (a *API) Call(ctx context.Context, action, subject string, params map[string]string) (map[string]any, error) {
	return a.CallChecked(ctx, action, subject, params, nil)
}

// CallChecked is Call; applied, when not nil, is asked before a write is
// sent again after a transient failure (it may have been applied): its
// answer, when it found the write done, ends the call.
func (a *API) CallChecked(ctx context.Context, action, subject string, params map[string]string, applied func() (map[string]any, bool)) (map[string]any, error) {
	lim := a.limiters[action]
	throttled, transient := 0, 0
	for {
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				return nil, fmt.Errorf("%s %s %s: %w", a.name, action, subject, err)
			}
		}
		body, err := a.client.Call(ctx, cloud.Request{Endpoint: a.endpoint, Action: action, Version: a.version, Params: params, Subject: subject})
		if err == nil {
			return body, nil
		}
		var ce *cloud.Error
		if !errors.As(err, &ce) {
			return nil, fmt.Errorf("%s: %w", a.name, err)
		}
		var wait time.Duration
		switch {
		case ce.Class() == failure.Throttled:
			if throttled++; throttled >= maxThrottledAttempts {
				return nil, fmt.Errorf("%s: throttled %d times: %w", a.name, throttled, err)
			}
			wait = ce.RetryAfter()
			if wait > 0 {
				wait += rand.N(200 * time.Millisecond)
			} else {
				wait = backoff(throttled)
			}
		case ce.Class() == failure.Transient || a.settling[ce.Code]:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s: %w", a.name, err)
			}
			if transient++; transient >= maxTransientAttempts {
				return nil, fmt.Errorf("%s: failed %d times: %w", a.name, transient, err)
			}
			wait = backoff(transient)
			if applied != nil {
				if body, ok := applied(); ok {
					return body, nil
				}
			}
		default:
			return nil, fmt.Errorf("%s: %w", a.name, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%s: %w (then %w)", a.name, err, ctx.Err())
		case <-t.C:
		}
	}
}

// backoff is exponential with full jitter.
func backoff(attempt int) time.Duration {
	d := backoffBase << min(attempt-1, 10)
	if d > backoffCap {
		d = backoffCap
	}
	return rand.N(d) + time.Millisecond
}

// refusedError is the API's answer refusing a write (HTTP 4xx, throttling
// included): the API applies no call it answers so, so nothing was
// written.
type refusedError struct{ error }

// Refused reports that nothing was written.
func (refusedError) Refused() bool { return true }

func (e refusedError) Unwrap() error { return e.error }

// Refusal marks err as a refusal (its Refused method reports true) when
// the API answered it with a 4xx. A 5xx, a reset or a timeout leaves the
// write's fate unknown: err is returned as it is.
func Refusal(err error) error {
	var ce *cloud.Error
	if errors.As(err, &ce) && ce.HTTPStatus >= 400 && ce.HTTPStatus < 500 {
		return refusedError{err}
	}
	return err
}

// Holder returns the zone among zones that holds name (the longest zone
// name that name is or ends with, by zoneName), and false when none does.
// name and the zone names are canonical.
func Holder[Z any](name string, zones []Z, zoneName func(Z) string) (Z, bool) {
	var best Z
	found := false
	for _, z := range zones {
		zn := zoneName(z)
		if (name == zn || strings.HasSuffix(name, "."+zn)) && (!found || len(zn) > len(zoneName(best))) {
			best, found = z, true
		}
	}
	return best, found
}

// Record builds the libdns value for a record: a TXT carries the record's
// ID as ProviderData.
func Record(name, typ, value string, ttl time.Duration, id string) libdns.Record {
	if strings.EqualFold(typ, "TXT") {
		return libdns.TXT{Name: name, TTL: ttl, Text: value, ProviderData: id}
	}
	rr := libdns.RR{Name: name, TTL: ttl, Type: typ, Data: value}
	if parsed, err := rr.Parse(); err == nil {
		return parsed
	}
	return rr
}

// ProviderID returns the record ID Record put in ProviderData.
func ProviderID(rec libdns.Record) string {
	if t, ok := rec.(libdns.TXT); ok {
		if id, ok := t.ProviderData.(string); ok {
			return id
		}
	}
	return ""
}

// Relative is a libdns relative name without its trailing dot, "@" for
// the apex.
func Relative(name string) string {
	if name == "" {
		return "@"
	}
	return strings.TrimSuffix(name, ".")
}

// Canonical lower-cases a name and drops its trailing dot.
func Canonical(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

// Found is a record as an API's listing answers it.
type Found struct {
	ID, Name, Type, Value string
	TTL                   time.Duration
}

// Matches reports whether f is of type typ and holds value, where those
// are given (not empty).
func (f Found) Matches(typ, value string) bool {
	return (typ == "" || strings.EqualFold(f.Type, typ)) && (value == "" || f.Value == value)
}

// Targets returns the records that deleting rec means: the one whose ID
// AppendRecords put in rec's ProviderData (named name), else every record
// lookup finds.
func Targets(rec libdns.Record, name string, lookup func() ([]Found, error)) ([]Found, error) {
	if id := ProviderID(rec); id != "" {
		rr := rec.RR()
		return []Found{{ID: id, Name: name, Type: rr.Type, Value: rr.Data, TTL: rr.TTL}}, nil
	}
	return lookup()
}
