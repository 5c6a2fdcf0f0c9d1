package fanout

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Pacing constants. The pace of an API is judged once per window: when more
// than tolerance of the calls of two windows in a row were throttled, the
// pace is cut by decrease (multiplicative decrease); otherwise it grows by
// increase × quota (additive increase) up to the quota. Throttling a few
// calls in a window is the platform's normal noise and does not slow the
// run, nor does one unlucky window: at 30% of calls throttled at random,
// one window of 29 calls in a hundred has more than half of them
// throttled. A quota shared with another caller shows as a high throttled
// fraction window after window, and the pace then converges on the share
// that is left instead of storming.
const (
	paceWindow    = time.Second
	paceTolerance = 0.5
	paceDecrease  = 0.7
	paceIncrease  = 0.2
	paceFloor     = 1.0 // calls per second
	// paceHeadroom keeps the pace a little under the quota: a server that
	// counts calls in a sliding one-second window rejects the 31st call
	// that network jitter squeezes into it, and every rejected call costs
	// a full slot and a retry.
	paceHeadroom = 0.97
)

// pacer paces the calls to one API with a token bucket whose rate follows
// the AIMD rule above. It is safe for concurrent use.
type pacer struct {
	quota float64
	lim   *rate.Limiter

	mu          sync.Mutex
	windowStart time.Time
	calls       int
	throttled   int
	// hot: the last window had more than tolerance of its calls throttled.
	hot bool
}

// newPacer returns a pacer at quota calls per second. The bucket holds one
// token, so calls are spread evenly rather than sent in bursts that a
// per-second quota window would reject.
func newPacer(quota float64) *pacer {
	quota *= paceHeadroom
	return &pacer{quota: quota, lim: rate.NewLimiter(rate.Limit(quota), 1)}
}

// wait blocks until the next call may start, or ctx ends.
func (p *pacer) wait(ctx context.Context) error { return p.lim.Wait(ctx) }

// limit returns the current pace in calls per second.
func (p *pacer) limit() float64 { return float64(p.lim.Limit()) }

// observe records one answered call and adjusts the pace at a window's end.
func (p *pacer) observe(now time.Time, throttled bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.windowStart.IsZero() {
		p.windowStart = now
	}
	p.calls++
	if throttled {
		p.throttled++
	}
	if now.Sub(p.windowStart) < paceWindow {
		return
	}
	cur := float64(p.lim.Limit())
	next := math.Min(p.quota, cur+paceIncrease*p.quota)
	hot := float64(p.throttled) > paceTolerance*float64(p.calls)
	switch {
	case hot && p.hot:
		next = math.Max(paceFloor, cur*paceDecrease)
	case hot:
		next = cur // one window: noise, or the start of an overload
	}
	p.hot = hot
	if next != cur {
		p.lim.SetLimitAt(now, rate.Limit(next))
	}
	p.windowStart, p.calls, p.throttled = now, 0, 0
}
