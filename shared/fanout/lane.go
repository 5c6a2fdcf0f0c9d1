package fanout

import (
	"container/heap"
	"context"
	"sync"
)

// Ticket priorities: a target's retries and follow-up calls (a verifying
// Describe) go before the first calls of targets not yet started, so that
// a target throttled several times in a row is retried as soon as the
// pacer allows instead of queueing behind every fresh target, and the run
// does not end with a tail of stragglers.
const (
	prioRetry = 0
	prioFirst = 1
)

// lane is the queue of one API: calls wait in it for the API's pacer and a
// free call slot, and a dispatcher hands each pacer token to the waiting
// call of highest priority. A call waiting in a lane holds no slot: slots
// bound only the calls in flight (quota × p99 latency), and a target that
// waits out a retry-after hint waits outside any lane.
//
// A lane can be refused: once an answer shows that every call of the API
// would fail alike (the certificate refused, the permission missing), the
// calls waiting and every later one fail at once with that error.
//
// A Set lane is gated: its first call goes alone, so that a refusal of the
// certificate or of the permission costs one call, not one per call slot.
type lane struct {
	pc    *pacer
	slots chan struct{}
	wake  chan struct{}

	mu      sync.Mutex
	q       tickets
	seq     uint64
	refused error
	gated   bool // no answer yet: one call at a time
	probing bool // the gated lane's single call is out
}

// ticket is one call waiting in a lane.
type ticket struct {
	prio    int
	order   uint64
	index   int
	ch      chan struct{} // closed when granted or refused
	granted bool
	err     error
}

func newLane(pc *pacer, slots int, gated bool) *lane {
	return &lane{pc: pc, slots: make(chan struct{}, max(1, slots)), wake: make(chan struct{}, 1), gated: gated}
}

// poke wakes the dispatcher.
func (l *lane) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// dispatch hands out pacer tokens until ctx ends: one token per call,
// never more calls than the pacer allows, each to the best waiting call.
func (l *lane) dispatch(ctx context.Context) {
	for {
		l.mu.Lock()
		for len(l.q) == 0 || l.probing {
			l.mu.Unlock()
			select {
			case <-l.wake:
			case <-ctx.Done():
				return
			}
			l.mu.Lock()
		}
		l.mu.Unlock()
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if err := l.pc.wait(ctx); err != nil {
			<-l.slots
			return
		}
		l.mu.Lock()
		if len(l.q) == 0 || l.probing {
			// Every waiter gave up meanwhile: the token goes unused.
			l.mu.Unlock()
			<-l.slots
			continue
		}
		t := heap.Pop(&l.q).(*ticket)
		t.granted = true
		if l.gated {
			l.probing = true
		}
		l.mu.Unlock()
		close(t.ch)
	}
}

// acquire waits for a pacer token and a call slot. On success the caller
// makes its call and then calls release. It fails with the lane's refusal,
// or with ctx's error when ctx ends first.
func (l *lane) acquire(ctx context.Context, prio int, order uint64) error {
	l.mu.Lock()
	if l.refused != nil {
		err := l.refused
		l.mu.Unlock()
		return err
	}
	if prio == prioRetry {
		l.seq++
		order = l.seq
	}
	t := &ticket{prio: prio, order: order, ch: make(chan struct{})}
	heap.Push(&l.q, t)
	l.mu.Unlock()
	l.poke()
	select {
	case <-t.ch:
		return t.err
	case <-ctx.Done():
	}
	l.mu.Lock()
	switch {
	case t.err != nil:
		l.mu.Unlock()
		return t.err
	case t.granted:
		l.mu.Unlock()
		l.release(false)
	default:
		heap.Remove(&l.q, t.index)
		l.mu.Unlock()
	}
	return ctx.Err()
}

// release frees a granted call slot: after the call's answer (answered),
// or unused. The first answer opens a gated lane.
func (l *lane) release(answered bool) {
	l.mu.Lock()
	if answered {
		l.gated = false
	}
	l.probing = false
	l.mu.Unlock()
	<-l.slots
	l.poke()
}

// refuse fails the calls waiting in the lane, and every later one, with
// err. The first refusal wins.
func (l *lane) refuse(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refused != nil {
		return
	}
	l.refused = err
	for _, t := range l.q {
		t.err = err
		close(t.ch)
	}
	l.q = nil
}

// tickets is a heap of waiting calls: lowest prio first, then lowest order.
type tickets []*ticket

func (h tickets) Len() int { return len(h) }
func (h tickets) Less(i, j int) bool {
	if h[i].prio != h[j].prio {
		return h[i].prio < h[j].prio
	}
	return h[i].order < h[j].order
}
func (h tickets) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *tickets) Push(x any) {
	t := x.(*ticket)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *tickets) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}
