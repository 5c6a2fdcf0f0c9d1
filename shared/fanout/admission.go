package fanout

import (
	"math"
	"sync"
	"time"
)

// Admission sizing. By Little's law a group of targets whose Set API is
// paced at q calls a second keeps its lane busy with q × w targets under
// way, w being the time a target takes when it never waits in a lane
// (its calls' latencies and any retry-after waits): more only wait in the
// lane, holding a goroutine and its memory. An admission estimates w from
// the targets that end, and admits q × w × admitMargin + the buffer.
const (
	// admitFirstWork is the work time assumed until a target has ended.
	admitFirstWork = 250 * time.Millisecond
	// admitMargin covers the spread of the work times around their mean.
	admitMargin = 1.25
	// admitWeight is the weight of one ended target in the estimate.
	admitWeight = 0.125
	// admitBuffer is the least number of targets admitted beyond the
	// estimate, and admitBufferTime the pace's worth of them.
	admitBuffer     = 4
	admitBufferTime = 250 * time.Millisecond
)

// admission bounds the targets of one group under way at once to what
// its pace needs.
type admission struct {
	q      float64 // the group's pace, calls a second
	buffer int
	most   int

	mu   sync.Mutex
	cond sync.Cond
	n    int           // targets under way
	work time.Duration // the estimated work time of a target
}

// newAdmission returns the admission of a group paced at q calls a
// second whose Set API has slots call slots (the calls in flight at the
// p99 latency). Whatever the estimate, it never admits more than one and
// a half times the slots: a work time that grows with the load (a machine
// short of CPU) does not admit more and more.
func newAdmission(q float64, slots int) *admission {
	buffer := max(admitBuffer, int(math.Ceil(q*admitBufferTime.Seconds())))
	a := &admission{q: q, buffer: buffer, most: max(1, slots+slots/2), work: admitFirstWork}
	a.cond.L = &a.mu
	return a
}

// limit is the number of targets the group may have under way; a.mu is
// held.
func (a *admission) limit() int {
	return min(a.most, int(math.Ceil(a.q*a.work.Seconds()*admitMargin))+a.buffer)
}

// enter waits until one more target may be under way, and counts it.
func (a *admission) enter() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.n >= a.limit() {
		a.cond.Wait()
	}
	a.n++
}

// leave counts a target that ended after work, the time it took outside
// its lanes' queues.
func (a *admission) leave(work time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n--
	a.work += time.Duration(admitWeight * float64(max(0, work)-a.work))
	a.cond.Broadcast()
}
