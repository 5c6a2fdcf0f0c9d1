package store

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Defaults of a Retry's zero fields.
const (
	DefaultRetryAttempts = 3
	DefaultRetryDelay    = 300 * time.Millisecond
)

// Retry is how a store operation is tried again after a transient
// failure (see Transient) within one invocation: at most Attempts tries,
// each bounded by AttemptTimeout, the n-th pause n × Delay, never a pause
// that would end past ctx's deadline, and nothing once ctx is done. The
// zero value is 3 tries with pauses of 300 ms and 600 ms, each try bounded
// by ctx alone.
type Retry struct {
	// Attempts is the number of tries in all; 0 means
	// DefaultRetryAttempts, 1 tries once.
	Attempts int
	// AttemptTimeout bounds each try; 0 means ctx alone.
	AttemptTimeout time.Duration
	// Delay is the pause after the first failure; the pause after the
	// nth is n × Delay. 0 means DefaultRetryDelay.
	Delay time.Duration
}

// Do calls op until it succeeds, fails with an error that is not
// transient, or runs out of tries or time, and returns op's last error.
// op receives a context bounded by AttemptTimeout; its own timeout is a
// transient failure, ctx's end is not. onRetry, when not nil, is called
// before each pause with the try that failed (from 1) and its error.
func (p Retry) Do(ctx context.Context, op func(context.Context) error, onRetry func(try int, err error)) error {
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = DefaultRetryAttempts
	}
	delay := p.Delay
	if delay <= 0 {
		delay = DefaultRetryDelay
	}
	for try := 1; ; try++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if p.AttemptTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, p.AttemptTimeout)
		}
		err := op(actx)
		cancel()
		if err == nil || try >= attempts || ctx.Err() != nil || !Transient(err) {
			return err
		}
		pause := time.Duration(try) * delay
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(pause).After(dl) {
			return err
		}
		if onRetry != nil {
			onRetry(try, err)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// Transient reports whether a store operation that failed with err may
// succeed if tried again unchanged: a 5xx answer (or 408, 429), a
// connection that failed or was reset, a timeout. A definite answer is
// not: not found, denied, too large, an invalid key or configuration, any
// other 4xx; nor a cancellation.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	for _, definite := range []error{ErrNotFound, ErrDenied, ErrTooLarge, ErrInvalidKey, ErrConfig, context.Canceled} {
		if errors.Is(err, definite) {
			return false
		}
	}
	var se *Error
	if errors.As(err, &se) && se.status != 0 {
		return se.status >= 500 || se.status == http.StatusRequestTimeout || se.status == http.StatusTooManyRequests
	}
	var ne net.Error
	if se != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		// A store error without an answer: the request did not complete.
		return true
	}
	return false
}
