package fanout

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/plan"
)

// errReset is a call that got no answer: the connection was reset. It
// carries no RequestId, as no service answered it.
var errReset = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}

// lostAnswers applies a domain's first Sets and then answers them with a
// reset, as when the connection drops after the service applied the call.
type lostAnswers struct {
	*fakeClient
	lose map[string]int
}

func (l *lostAnswers) Set(ctx context.Context, c plan.Call, calls Caller) error {
	return calls.Call(ctx, c.API, func() (string, error) {
		rid, err := l.fakeClient.set(c)
		l.mu.Lock()
		defer l.mu.Unlock()
		if err == nil && l.lose[c.DomainName] > 0 {
			l.lose[c.DomainName]--
			return "", errReset
		}
		return rid, err
	})
}

// TestNeverSetBlind: a target whose Describe keeps failing is not set
// without knowing what it carries: its Describe is retried as a Set would
// be, and when the retries run out it fails, transient, with no Set. Only
// replace: always or force set it without knowing.
func TestNeverSetBlind(t *testing.T) {
	newer := Installed{CertName: "newer-by-hand", NotBefore: notBefore.AddDate(0, 1, 0), NotAfter: notAfter.AddDate(0, 1, 0), HTTPS: true}
	throttles := func(n int) []error {
		errs := make([]error, n)
		for i := range errs {
			errs[i] = errThrottled
		}
		return errs
	}
	tests := []struct {
		name      string
		opts      Options
		replace   string
		descErrs  []error
		descAlway error
		want      State
		wantSets  int
		errHas    string
	}{
		{name: "throttled past the old Describe budget, then answered newer", descErrs: throttles(describeThrottled + 2),
			want: SkippedNewer},
		{name: "busy past the old Describe budget, then answered newer", descErrs: []error{errBusy, errBusy, errBusy, errBusy},
			want: SkippedNewer},
		{name: "reset (no answer) past the old Describe budget, then answered newer", descErrs: []error{errReset, errReset, errReset},
			want: SkippedNewer},
		{name: "throttled to the end", descAlway: errThrottled, want: Failed, errHas: "not set"},
		{name: "busy to the end", descAlway: errBusy, want: Failed, errHas: "not set"},
		{name: "replace: always sets without knowing", replace: plan.ReplaceAlways, descAlway: errBusy, want: Deployed, wantSets: 1},
		{name: "force sets without knowing", opts: Options{Force: true}, descAlway: errThrottled, want: Deployed, wantSets: 1},
		{name: "rollback never sets without knowing", opts: Options{Rollback: true}, descAlway: errBusy, want: Failed, errHas: "not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlan(1)
			if tt.replace != "" {
				p.Replace = tt.replace
			}
			d := p.Calls[0].DomainName
			f := newFake()
			f.installed[d] = newer
			f.descErrs[d] = tt.descErrs
			if tt.descAlway != nil {
				f.descAlways[d] = tt.descAlway
			}
			r := Run(context.Background(), f, p, serial(tt.opts))[0]
			if r.State != tt.want || f.totalSets() != tt.wantSets {
				t.Fatalf("%s after %d Describes and %d Sets (%v), want %s and %d Sets", r.State, r.Describes, f.totalSets(), r.Err, tt.want, tt.wantSets)
			}
			if tt.errHas != "" {
				c, _ := classify(r.Err)
				if r.Err == nil || !strings.Contains(r.Err.Error(), tt.errHas) || (c != failure.Throttled && c != failure.Transient) {
					t.Errorf("error %v (class %s), want a transient one saying %q", r.Err, c, tt.errHas)
				}
			}
		})
	}
}

// TestStopDuringDescribeRetry: a Describe whose retry would fall after
// the stop point ends the target with the stop seen, and no Set is sent.
func TestStopDuringDescribeRetry(t *testing.T) {
	p := testPlan(1)
	d := p.Calls[0].DomainName
	f := newFake()
	f.installed[d] = Installed{CertName: "newer-by-hand", NotBefore: notBefore.AddDate(0, 1, 0), HTTPS: true}
	f.descErrs[d] = []error{&fakeErr{class: failure.Throttled, code: "Throttling.User", hint: time.Second}}
	opts := serial(Options{StopAt: time.Now().Add(300 * time.Millisecond)})
	opts.MaxDelay = 2 * time.Second
	r := Run(context.Background(), f, p, opts)[0]
	if n := f.totalSets(); n != 0 {
		t.Fatalf("%d Set calls after a Describe that could not be retried before the stop", n)
	}
	var se *StopError
	if r.State != Failed || !errors.As(r.Err, &se) || se.Code != "Deadline" || !strings.Contains(r.Err.Error(), "Throttling.User") {
		t.Fatalf("%s %v, want failed with the throttle and the deadline", r.State, r.Err)
	}
	if c, _ := classify(r.Err); c != failure.Throttled {
		t.Errorf("class %s, want throttled (transient)", c)
	}
}

// TestStopAfterKeepsBoth: the error of a call that failed before the run
// stopped is both the call's error and the stop.
func TestStopAfterKeepsBoth(t *testing.T) {
	err := stopAfter(deadlineStop(), errBusy)
	var se *StopError
	var fe *fakeErr
	if !isStop(err) || !errors.As(err, &se) || !errors.As(err, &fe) || fe != errBusy {
		t.Fatalf("%v: the stop or the call's error is lost", err)
	}
	if want := "ServiceBusy (then " + deadlineStop().Error() + ")"; err.Error() != want {
		t.Errorf("%q, want %q", err.Error(), want)
	}
	if c, _ := classify(err); c != failure.Transient {
		t.Errorf("class %s, want the call's", c)
	}
	if stopAfter(deadlineStop(), nil).Error() != deadlineStop().Error() {
		t.Error("a stop before any call is the stop alone")
	}
}

// TestUnansweredSet: a Set that got no answer may have been applied; the
// target is described before it is set again, and ends deployed with one
// Set when the Set had been applied, or is set again when it had not.
func TestUnansweredSet(t *testing.T) {
	p := testPlan(3)
	d := func(i int) string { return p.Calls[i].DomainName }
	f := &lostAnswers{fakeClient: newFake(), lose: map[string]int{d(0): 1}}
	f.setErrs[d(1)] = []error{errReset} // reset before it was applied
	f.setErrs[d(2)] = []error{errBusy}  // answered: retried without a Describe
	res := Run(context.Background(), f, p, serial(Options{}))
	want := []struct {
		sets, describes int
	}{{1, 2}, {2, 2}, {2, 1}}
	for i, r := range res {
		if r.State != Deployed || r.Err != nil {
			t.Errorf("%s: %s %v, want deployed", d(i), r.State, r.Err)
		}
		if f.sets[d(i)] != want[i].sets || r.Attempts != want[i].sets || r.Describes != want[i].describes {
			t.Errorf("%s: %d Sets (%d attempts), %d Describes; want %d and %d", d(i), f.sets[d(i)], r.Attempts, r.Describes, want[i].sets, want[i].describes)
		}
	}
	if n := res[0].Note; !strings.Contains(n, "no answer") {
		t.Errorf("note %q: it does not say the Set's answer was lost", n)
	}
}

// TestUnansweredSetThenNewer: when the Describe after an unanswered Set
// shows a certificate issued later than this one, it is not replaced.
func TestUnansweredSetThenNewer(t *testing.T) {
	p := testPlan(1)
	d := p.Calls[0].DomainName
	f := &newerMeanwhile{fakeClient: newFake()}
	r := Run(context.Background(), f, p, serial(Options{}))[0]
	if r.State != SkippedNewer || f.sets[d] != 1 {
		t.Fatalf("%s after %d Sets (%v), want skipped_newer after 1", r.State, f.sets[d], r.Err)
	}
	if !strings.Contains(r.Note, "newer-by-hand") {
		t.Errorf("note %q does not name the newer certificate", r.Note)
	}
}

// newerMeanwhile loses the answer of the first Set, and by then the
// domain carries a certificate issued later.
type newerMeanwhile struct{ *fakeClient }

func (n *newerMeanwhile) Set(ctx context.Context, c plan.Call, calls Caller) error {
	return calls.Call(ctx, c.API, func() (string, error) {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.sets[c.DomainName]++
		n.installed[c.DomainName] = Installed{CertName: "newer-by-hand", NotBefore: notBefore.AddDate(0, 1, 0), HTTPS: true}
		return "", errReset
	})
}
