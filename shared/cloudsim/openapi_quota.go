package cloudsim

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// rateInfo is the state of one quota after a decision, sent as the
// x-ratelimit-user-api header: "Limit:30,Remain:0,TimeLeft:350,Reset:1700000000350".
// Limit is the calls allowed per window (one second for whole-number
// quotas), Remain the calls still allowed now, TimeLeft the milliseconds
// until one more call would be accepted (0 when Remain > 0), and Reset the
// Unix time in milliseconds at which that happens. The SDKs read only
// TimeLeft, in milliseconds.
type rateInfo struct {
	limit    int
	remain   int
	timeLeft time.Duration
	reset    time.Time
}

func (ri rateInfo) header() string {
	return fmt.Sprintf("Limit:%d,Remain:%d,TimeLeft:%d,Reset:%d",
		ri.limit, ri.remain, ri.timeLeft.Milliseconds(), ri.reset.UnixMilli())
}

// slidingWindow admits at most limit calls in any window-long interval,
// measured on arrival: the strictest reading of "N calls per second". It
// keeps the arrival times of the last limit admitted calls in a ring.
type slidingWindow struct {
	limit  int
	window time.Duration
	times  []time.Time // ring of admitted arrivals, oldest at head once full
	head   int
}

func newSlidingWindow(perSecond float64) *slidingWindow {
	// Whole numbers: limit calls per second. Fractions: one call per
	// 1/perSecond seconds, or limit calls per limit/perSecond seconds.
	limit := int(math.Max(1, math.Round(perSecond)))
	window := time.Duration(float64(limit) / perSecond * float64(time.Second))
	return &slidingWindow{limit: limit, window: window, times: make([]time.Time, 0, limit)}
}

// allow admits a call arriving at now, or tells how long until it could be.
func (w *slidingWindow) allow(now time.Time) (bool, rateInfo) {
	if len(w.times) < w.limit {
		w.times = append(w.times, now)
		return true, rateInfo{limit: w.limit, remain: w.limit - len(w.times), reset: now}
	}
	oldest := w.times[w.head]
	free := oldest.Add(w.window)
	if !now.Before(free) {
		w.times[w.head] = now
		w.head = (w.head + 1) % w.limit
		remain := 0
		// Count how many more would fit now: admitted calls older than a
		// window no longer count.
		for i := 0; i < w.limit; i++ {
			if !now.Before(w.times[(w.head+i)%w.limit].Add(w.window)) {
				remain++
			} else {
				break
			}
		}
		return true, rateInfo{limit: w.limit, remain: remain, reset: now}
	}
	return false, rateInfo{limit: w.limit, remain: 0, timeLeft: free.Sub(now), reset: free}
}

// quotas holds one sliding window per API action for the account.
type quotas struct {
	mu      sync.Mutex
	limits  map[string]float64
	windows map[string]*slidingWindow
}

func newQuotas(limits map[string]float64) *quotas {
	return &quotas{limits: limits, windows: map[string]*slidingWindow{}}
}

// allow admits a call to action arriving now, by clock read under the
// lock so that the admitted times are in order, counted in key's window
// (its product's: two products' actions of one name are counted apart).
// It returns the time the decision was taken at. An action whose limit is
// negative is unlimited.
func (q *quotas) allow(key, action string, clock func() time.Time) (bool, *rateInfo, time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := clock()
	limit, ok := q.limits[key]
	if !ok {
		limit = q.limits[action]
	}
	if limit < 0 {
		return true, nil, now
	}
	w := q.windows[key]
	if w == nil {
		w = newSlidingWindow(limit)
		q.windows[key] = w
	}
	ok, ri := w.allow(now)
	return ok, &ri, now
}
