package fanout

import (
	"math"
	"sync"
	"time"
)

// Admission sizing. By Little's law a group of targets that can end at T
// a second keeps its lanes busy with T × w targets under way, w being the
// time a target takes when it never waits in a lane (its calls' latencies
// and any retry-after waits): more only wait in a lane, holding a
// goroutine and its memory. T is the group's Set API's pace over the
// share of its targets that need a Set, at most the pace of the reads
// (Describe) every target makes: a deployment ends targets at the Set
// pace, a reconcile that finds them unchanged at the Describe pace. An
// admission estimates w and that share from the targets that end, and
// admits T × w × admitMargin + a buffer.
const (
	// admitFirstWork is the work time assumed until a target has ended.
	admitFirstWork = 250 * time.Millisecond
	// admitMargin covers the spread of the work times around their mean.
	admitMargin = 1.25
	// admitWeight is the weight of one ended target in the estimates.
	admitWeight = 0.125
	// admitBuffer is the least number of targets admitted beyond the
	// estimate, and admitBufferTime the pace's worth of them.
	admitBuffer     = 4
	admitBufferTime = 250 * time.Millisecond
)

// admission bounds the targets of one group under way at once to what
// its pace needs.
type admission struct {
	set  float64 // the group's Set API's pace, calls a second
	most int

	mu   sync.Mutex
	cond sync.Cond
	n    int           // targets under way
	work time.Duration // the estimated work time of a target
	sets float64       // the estimated share of targets that make a Set call
	read float64       // the fastest read pace seen; set until one is
}

// newAdmission returns the admission of a group whose Set API is paced at
// q calls a second and has slots call slots (the calls in flight at the
// p99 latency). Whatever the estimate, it never admits more than one and
// a half times the slots: a work time that grows with the load (a machine
// short of CPU) does not admit more and more.
func newAdmission(q float64, slots int) *admission {
	a := &admission{set: q, most: max(1, slots+slots/2), work: admitFirstWork, sets: 1, read: q}
	a.cond.L = &a.mu
	return a
}

// pace is the rate at which the group's targets can end; a.mu is held.
func (a *admission) pace() float64 {
	if a.sets*a.read <= a.set {
		return a.read
	}
	return a.set / a.sets
}

// limit is the number of targets the group may have under way; a.mu is
// held.
func (a *admission) limit() int {
	t := a.pace()
	buffer := max(admitBuffer, int(math.Ceil(t*admitBufferTime.Seconds())))
	return min(a.most, int(math.Ceil(t*a.work.Seconds()*admitMargin))+buffer)
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
// its lanes' queues; set says whether it made a Set call, read is the
// pace of the reads it made (0: none).
func (a *admission) leave(work time.Duration, set bool, read float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n--
	a.work += time.Duration(admitWeight * float64(max(0, work)-a.work))
	s := 0.0
	if set {
		s = 1
	}
	a.sets += admitWeight * (s - a.sets)
	a.read = max(a.read, read)
	a.cond.Broadcast()
}
