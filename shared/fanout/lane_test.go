package fanout

import (
	"context"
	"errors"
	"testing"
	"time"
)

// queued waits until n calls wait in the lane.
func queued(t *testing.T, l *lane, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		l.mu.Lock()
		got := len(l.q)
		l.mu.Unlock()
		if got == n {
			return
		}
	}
	t.Fatalf("%d calls never queued", n)
}

// TestLaneOrder: the lane grants retries first, in the order they came
// back, then first calls in plan order, one call slot at a time.
func TestLaneOrder(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := newLane(newPacer(1000), 1, false)
	go l.dispatch(ctx)
	if err := l.acquire(ctx, prioFirst, 0); err != nil { // holds the only slot
		t.Fatal(err)
	}
	got := make(chan string, 4)
	enqueue := func(name string, prio int, order uint64, n int) {
		go func() {
			if err := l.acquire(ctx, prio, order); err != nil {
				got <- "error " + err.Error()
				return
			}
			got <- name
			l.release(true)
		}()
		queued(t, l, n)
	}
	enqueue("first-5", prioFirst, 5, 1)
	enqueue("retry-a", prioRetry, 0, 2)
	enqueue("first-2", prioFirst, 2, 3)
	enqueue("retry-b", prioRetry, 0, 4)
	l.release(true)
	for _, want := range []string{"retry-a", "retry-b", "first-2", "first-5"} {
		if g := <-got; g != want {
			t.Fatalf("granted %s, want %s", g, want)
		}
	}
}

// TestLaneRefuseAndGate: a gated lane sends one call until it is
// answered; a refusal fails the calls waiting and every later one.
func TestLaneRefuseAndGate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := newLane(newPacer(1000), 10, true)
	go l.dispatch(ctx)
	if err := l.acquire(ctx, prioFirst, 0); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 3)
	for i := range 3 {
		go func() { errs <- l.acquire(ctx, prioFirst, uint64(i+1)) }()
	}
	queued(t, l, 3) // ten slots, but the gate holds them back
	refusal := errors.New("the certificate is too long")
	l.refuse(refusal)
	l.release(true)
	for range 3 {
		if err := <-errs; !errors.Is(err, refusal) {
			t.Errorf("a waiting call got %v, want the refusal", err)
		}
	}
	if err := l.acquire(ctx, prioRetry, 0); !errors.Is(err, refusal) {
		t.Errorf("a later call got %v, want the refusal", err)
	}
}

// TestLaneCanceledWaiter: a call that gives up leaves the queue and the
// next one is served.
func TestLaneCanceledWaiter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := newLane(newPacer(1000), 1, false)
	go l.dispatch(ctx)
	if err := l.acquire(ctx, prioFirst, 0); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- l.acquire(wctx, prioRetry, 0) }()
	queued(t, l, 1)
	wcancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled waiter: %v", err)
	}
	queued(t, l, 0)
	l.release(true)
	if err := l.acquire(ctx, prioFirst, 1); err != nil {
		t.Fatalf("the next call: %v", err)
	}
}
