// Package lb is what the load balancer products (shared/product/alb,
// nlb, clb) share: the CAS region of a listener's region, certificate
// ids "<CertId>-<region>", a lock per listener, bounded waits for a
// listener's asynchronous states, the reading of certificates from
// Certificate Management Service, and the errors certdrop itself gives a
// load balancer target. ALB and NLB, whose certificate APIs have the same
// shape, share one product here (Listener), each with its own Dialect.
package lb

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/manifest"
)

// RegionPattern is the form of a region ID (cn-hangzhou, ap-southeast-1,
// eu-central-1): the manifest checks it.
const RegionPattern = `^[a-z]{2,4}(-[a-z0-9]{1,16}){1,4}$`

var regionRE = regexp.MustCompile(RegionPattern)

// CheckRegion says what is wrong with a region field ("" when nothing).
func CheckRegion(product manifest.Product) func(string) string {
	return func(s string) string {
		if !regionRE.MatchString(s) {
			return fmt.Sprintf("invalid %s region %q (a region ID such as cn-hangzhou)", product, s)
		}
		return ""
	}
}

// CASRegionOf is the Certificate Management Service region whose
// certificates a load balancer in region takes: cn-hangzhou for the
// Chinese mainland (every cn- region but cn-hongkong), ap-southeast-1
// elsewhere. CAS keeps SSL certificates in those two regions only (its
// endpoints page); which of them a listener outside the mainland reads
// is not in the load balancers' references: certdrop follows the vendor's
// console (a China-site account sees only cn-hangzhou, an international
// one only ap-southeast-1, and a listener outside the mainland takes its
// certificates from ap-southeast-1), treats Hong Kong as outside the
// mainland, and a target's own casRegion overrides the choice.
func CASRegionOf(region string) string {
	if strings.HasPrefix(region, "cn-") && region != "cn-hongkong" {
		return manifest.CASRegionMainland
	}
	return manifest.CASRegionInternational
}

// CertID is a certificate of Certificate Management Service as the load
// balancers name it: "<CertId>-<region>" (1416****-cn-hangzhou).
type CertID struct {
	ID     int64
	Region string
}

// String renders "<CertId>-<region>".
func (c CertID) String() string { return strconv.FormatInt(c.ID, 10) + "-" + c.Region }

// ParseCertID reads "<CertId>-<region>"; ok is false for anything else
// (an id of another store).
func ParseCertID(s string) (CertID, bool) {
	num, region, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found || region == "" {
		return CertID{}, false
	}
	id, err := strconv.ParseInt(num, 10, 64)
	if err != nil || id <= 0 {
		return CertID{}, false
	}
	return CertID{ID: id, Region: region}, true
}

// Locks serialise the calls to one listener: a product holds one, and a
// target's Set holds its listener's lock from its first write to the
// listener's confirmation, so that two targets on one listener (its
// default certificate and an additional one) never configure it at once.
// Different listeners proceed in parallel.
type Locks struct {
	mu sync.Mutex
	m  map[string]*lockEntry
}

type lockEntry struct {
	ch    chan struct{}
	users int
}

// Lock waits for key's lock, or until ctx ends; it returns the unlock.
func (l *Locks) Lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*lockEntry{}
	}
	e := l.m[key]
	if e == nil {
		e = &lockEntry{ch: make(chan struct{}, 1)}
		l.m[key] = e
	}
	e.users++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		e.users--
		if e.users == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
	select {
	case e.ch <- struct{}{}:
		return func() { <-e.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// WaitOptions bound the waits for a listener's asynchronous states.
type WaitOptions struct {
	// Interval is the first pause between two reads; each next pause is
	// half as long again, up to MaxInterval.
	Interval, MaxInterval time.Duration
	// Timeout bounds one wait; the run's deadline bounds it too (every
	// read goes through the fan-out, which stops at the deadline).
	Timeout time.Duration
	// Retries bounds how often a write answered "listener busy" is sent
	// again after the listener was seen ready.
	Retries int
}

// DefaultWait are the waits' bounds: reads from 0.5 s apart to 5 s
// apart, for at most 5 minutes per wait; a busy listener is written at
// most 10 times. The references give no duration for a listener's
// Configuring state (seconds, in the vendor's examples): these are
// certdrop's choice.
var DefaultWait = WaitOptions{Interval: 500 * time.Millisecond, MaxInterval: 5 * time.Second, Timeout: 5 * time.Minute, Retries: 10}

// Wait calls check until it reports done, pausing between calls as o
// says; it returns check's error, ctx's, or a *Error (transient) when o's
// Timeout passes first. what says what is awaited, for that error.
func Wait(ctx context.Context, o WaitOptions, api, subject, what string, check func() (bool, error)) error {
	return wait(ctx, o, api, subject, what, false, check)
}

// WaitAfterWrite is Wait for the outcome of a write just sent: the first
// read comes after the first pause (a listener is Configuring right
// after a write: reading it at once would spend a call of the read quota
// for nothing).
func WaitAfterWrite(ctx context.Context, o WaitOptions, api, subject, what string, check func() (bool, error)) error {
	return wait(ctx, o, api, subject, what, true, check)
}

func wait(ctx context.Context, o WaitOptions, api, subject, what string, pauseFirst bool, check func() (bool, error)) error {
	start := time.Now()
	pause := o.Interval
	if pauseFirst {
		if err := sleep(ctx, pause); err != nil {
			return err
		}
	}
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		if time.Since(start)+pause > o.Timeout {
			return &Error{API: api, Subject: subject, Code: "WaitTimeout", Kind: failure.Transient,
				Message: fmt.Sprintf("%s did not happen within %s", what, o.Timeout),
				Hint:    "the load balancer is still configuring: a later run reads it again and goes on"}
		}
		if err := sleep(ctx, pause); err != nil {
			return err
		}
		pause = min(pause+pause/2, o.MaxInterval)
	}
}

// sleep pauses for d, or until ctx ends (then its error).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Error is a failure certdrop itself finds with a load balancer target
// (a listener that is not HTTPS, a domain without its extension, a wait
// that timed out): its code, what happened and what to do, and its class.
// It carries no secret.
type Error struct {
	API, Subject  string
	Code, Message string
	Hint          string
	// Kind is the error's class.
	Kind failure.Class
}

// Error renders "API subject: Code: message; hint".
func (e *Error) Error() string {
	s := e.API
	if e.Subject != "" {
		s += " " + e.Subject
	}
	s += ": "
	if e.Code != "" {
		s += e.Code + ": "
	}
	s += e.Message
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// Class says how the fan-out treats the error (failure.ClassifiedError).
func (e *Error) Class() failure.Class { return e.Kind }

// RetryAfter has no hint.
func (e *Error) RetryAfter() time.Duration { return 0 }

// APICode returns the code (report.APIError).
func (e *Error) APICode() string { return e.Code }

// APIMessage returns the message (report.APIError).
func (e *Error) APIMessage() string { return e.Message }

// APIHint returns what to do (report.APIError).
func (e *Error) APIHint() string { return e.Hint }

// Temporary reports whether a later run may succeed.
func (e *Error) Temporary() bool { return e.Kind == failure.Transient }

// asCode finds an error with an API code in err's chain.
func asCode(err error, target *interface{ APICode() string }) bool {
	return errors.As(err, target)
}
