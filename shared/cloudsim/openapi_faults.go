package cloudsim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Faults makes the OpenAPI emulator misbehave the way production does,
// deterministically: every decision derives from a hash of (Seed, API
// action, DomainName, attempt number), where the attempt number counts the
// calls to that action for that domain that passed authentication and the
// quota. Concurrency and arrival order therefore never change which call
// fails how. The zero value injects nothing.
type Faults struct {
	// Seed varies the pseudo-random decisions.
	Seed uint64 `yaml:"seed"`
	// Latency delays every answer past the quota check by a log-normal
	// amount with this median and 99th percentile; zero means none.
	Latency Latency `yaml:"latency"`
	// ThrottleRate is the fraction of calls answered Throttling.User
	// although within the quota (a shared backend being busy).
	ThrottleRate float64 `yaml:"throttleRate"`
	// ThrottleTimeLeft is the retry-after hint (x-ratelimit-user-api
	// TimeLeft) of an injected or scripted throttle: 0 means 500 ms, a
	// negative value none (the answer carries the quota's own header,
	// TimeLeft 0), as some services throttle without saying when to retry.
	ThrottleTimeLeft time.Duration `yaml:"throttleTimeLeft"`
	// ErrorRate is the fraction of calls answered with a 5xx:
	// ServiceUnavailable (503) or InternalError (500), in equal parts.
	ErrorRate float64 `yaml:"errorRate"`
	// ResetRate is the fraction of calls whose connection is reset (TCP
	// RST) before any answer; nothing is applied.
	ResetRate float64 `yaml:"resetRate"`
	// ResetAfterApplyRate is the fraction of the calls no other fault hits
	// whose connection is reset after the call was applied: the state
	// changed (a Set installed its certificate), the client sees a network
	// error and no answer. The ambiguous failure.
	ResetAfterApplyRate float64 `yaml:"resetAfterApplyRate"`
	// SlowRate is the fraction of calls answered only after SlowDelay:
	// the call IS applied, the client times out before hearing so.
	SlowRate float64 `yaml:"slowRate"`
	// SlowDelay is how long a slow answer is held; 0 means 2 minutes.
	SlowDelay time.Duration `yaml:"slowDelay"`
	// Scripted failures for named domains, checked before the rates.
	Scripted []Script `yaml:"scripted"`
}

// Latency is a log-normal delay given by its median and 99th percentile.
type Latency struct {
	Median time.Duration `yaml:"median"`
	P99    time.Duration `yaml:"p99"`
}

// Script fails the first calls of an API for one domain: "the first 2
// SetCdnDomainSSLCertificate calls for www.example.com are answered
// ServiceBusy, the third succeeds".
type Script struct {
	// Domain is the DomainName the script applies to, as the API takes it
	// (a CDN wildcard as ".example.com"); for Certificate Management
	// Service, the journal's Domain (the Name of an upload, the CertId of a
	// detail or delete, the Keyword of a list). "*" matches every call.
	Domain string `yaml:"domain"`
	// API restricts the script to one action; empty means every action,
	// each counted separately.
	API string `yaml:"api"`
	// Fault is "error" (the default), "reset" (before the call is
	// applied), "resetAfterApply" (after it is) or "slow".
	Fault string `yaml:"fault"`
	// Code, Status and Message make the error answer. Status defaults to
	// the code's usual status, or 400; Message to the code's usual message.
	Code    string `yaml:"code"`
	Status  int    `yaml:"status"`
	Message string `yaml:"message"`
	// Times is how many calls fail, starting with the first; 0 means 1.
	Times int `yaml:"times"`
	// After skips this many calls before the failures start.
	After int `yaml:"after"`
}

// Fault kinds a decision can carry; the journal's Fault field names them.
const (
	faultNone     = ""
	faultScripted = "scripted"
	faultThrottle = "throttle"
	fault5xx      = "5xx"
	faultReset    = "reset"
	faultSlow     = "slow"
	// faultResetApplied resets the connection after the call is applied.
	faultResetApplied = "resetAfterApply"
)

// decision is what the emulator does to one call.
type decision struct {
	// kind is faultNone, faultScripted, faultThrottle, fault5xx,
	// faultReset, faultResetApplied or faultSlow. A scripted reset or slow
	// answer has kind faultReset, faultResetApplied or faultSlow and
	// scripted set.
	kind     string
	scripted bool
	err      *apiError // the error to answer, for scripted errors, throttle and 5xx
	latency  time.Duration
	slow     time.Duration
}

// validate checks rates and scripts.
func (f *Faults) validate() error {
	for name, r := range map[string]float64{"throttleRate": f.ThrottleRate, "errorRate": f.ErrorRate, "resetRate": f.ResetRate,
		"resetAfterApplyRate": f.ResetAfterApplyRate, "slowRate": f.SlowRate} {
		if r < 0 || r > 1 || math.IsNaN(r) {
			return fmt.Errorf("faults.%s must be between 0 and 1, not %v", name, r)
		}
	}
	if f.ThrottleRate+f.ErrorRate+f.ResetRate > 1 {
		return fmt.Errorf("faults: throttleRate + errorRate + resetRate exceed 1")
	}
	if f.Latency.Median < 0 || f.Latency.P99 < 0 {
		return fmt.Errorf("faults.latency: durations must not be negative")
	}
	for i, s := range f.Scripted {
		if s.Domain == "" {
			return fmt.Errorf("faults.scripted[%d]: domain is required", i)
		}
		if s.API != "" {
			if _, ok := lookupAPI(s.API); !ok {
				return fmt.Errorf("faults.scripted[%d]: unknown api %q", i, s.API)
			}
		}
		switch s.Fault {
		case "", "error":
			if s.Code == "" {
				return fmt.Errorf("faults.scripted[%d]: code is required for an error", i)
			}
		case "reset", "resetAfterApply", "slow":
		default:
			return fmt.Errorf("faults.scripted[%d]: fault must be error, reset, resetAfterApply or slow, not %q", i, s.Fault)
		}
		if s.Times < 0 || s.After < 0 || s.Status < 0 || (s.Status != 0 && (s.Status < 400 || s.Status > 599)) {
			return fmt.Errorf("faults.scripted[%d]: times and after must not be negative, status must be 400-599", i)
		}
	}
	return nil
}

// throttleTimeLeft is the hint of an injected throttle; 0 when none.
func (f *Faults) throttleTimeLeft() time.Duration {
	switch {
	case f.ThrottleTimeLeft < 0:
		return 0
	case f.ThrottleTimeLeft == 0:
		return 500 * time.Millisecond
	}
	return f.ThrottleTimeLeft
}

// rng returns the pseudo-random source for one call.
func (f *Faults) rng(action, domain string, attempt int) *rand.Rand {
	h := sha256.New()
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], f.Seed)
	h.Write(seed[:])
	h.Write([]byte("\x00" + action + "\x00" + domain + "\x00" + strconv.Itoa(attempt)))
	sum := h.Sum(nil)
	return rand.New(rand.NewPCG(binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16])))
}

// decide returns what to do to the attempt-th call of action for domain.
func (f *Faults) decide(product, action, domain string, attempt int) decision {
	slowDelay := f.SlowDelay
	if slowDelay <= 0 {
		slowDelay = 2 * time.Minute
	}
	for _, s := range f.Scripted {
		if (s.Domain != "*" && !strings.EqualFold(s.Domain, domain)) || (s.API != "" && s.API != action) {
			continue
		}
		times := s.Times
		if times == 0 {
			times = 1
		}
		if attempt <= s.After || attempt > s.After+times {
			continue
		}
		switch s.Fault {
		case "reset":
			return decision{kind: faultReset, scripted: true}
		case "resetAfterApply":
			return decision{kind: faultResetApplied, scripted: true}
		case "slow":
			return decision{kind: faultSlow, scripted: true, slow: slowDelay}
		}
		e := newAPIError(product, s.Code)
		if s.Status != 0 {
			e.status = s.Status
		}
		if s.Message != "" {
			e.message = s.Message
		}
		return decision{kind: faultScripted, scripted: true, err: e}
	}

	r := f.rng(action, domain, attempt)
	// Draw every value, in a fixed order, whatever is used, so that
	// changing one rate does not reshuffle the other decisions.
	u, z, which, slow, after := r.Float64(), r.NormFloat64(), r.Float64(), r.Float64(), r.Float64()
	d := decision{latency: f.Latency.sample(z)}
	switch {
	case u < f.ResetRate:
		d.kind = faultReset
	case u < f.ResetRate+f.ThrottleRate:
		d.kind = faultThrottle
		d.err = newAPIError(product, "Throttling.User")
	case u < f.ResetRate+f.ThrottleRate+f.ErrorRate:
		d.kind = fault5xx
		if which < 0.5 {
			d.err = newAPIError(product, "ServiceUnavailable")
		} else {
			d.err = newAPIError(product, "InternalError")
		}
	case after < f.ResetAfterApplyRate:
		d.kind = faultResetApplied
	case slow < f.SlowRate:
		d.kind, d.slow = faultSlow, slowDelay
	}
	return d
}

// sample maps a standard normal draw z to a log-normal delay.
func (l Latency) sample(z float64) time.Duration {
	if l.Median <= 0 {
		return 0
	}
	if l.P99 <= l.Median {
		return l.Median
	}
	// P99 = median × exp(σ × z₀.₉₉), z₀.₉₉ ≈ 2.3263.
	sigma := math.Log(float64(l.P99)/float64(l.Median)) / 2.326348
	d := float64(l.Median) * math.Exp(sigma*z)
	// A tail draw can be absurd; cap it at ten times the P99.
	return time.Duration(math.Min(d, 10*float64(l.P99)))
}
