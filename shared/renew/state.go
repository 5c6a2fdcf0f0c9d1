package renew

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/certdrop/certdrop/shared/store"
)

// DefaultStatePrefix is where the engine keeps the ACME account keys and
// each certificate's state in the bucket: outside the watched prefix, so
// that writing them triggers nothing.
const DefaultStatePrefix = "certdrop/acme/"

// OrderInterval is the least time between two new orders for one
// certificate, unless forced.
const OrderInterval = 24 * time.Hour

// Backoff after failed attempts: 1 h, 4 h, then a day between attempts.
var backoffSteps = []time.Duration{time.Hour, 4 * time.Hour, 24 * time.Hour}

// State is what the engine remembers of one certificate between runs, in
// <state prefix>state/<name>.json. It holds no secret.
type State struct {
	// Names are the names of the certificate last issued.
	Names []string `json:"names,omitempty"`
	// LastAttempt is when a renewal was last tried (an order, or the steps
	// before it).
	LastAttempt time.Time `json:"lastAttempt,omitzero"`
	// LastOrder is when the CA last accepted a new order for it.
	LastOrder time.Time `json:"lastOrder,omitzero"`
	// LastSuccess is when a certificate was last issued and written.
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	// Failures counts failed attempts since the last success.
	Failures int `json:"failures,omitempty"`
	// NextAttempt: no attempt before then, unless forced.
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	// LastError is the last failure, as reported.
	LastError string `json:"lastError,omitempty"`
	// NotAfter and Serial describe the certificate last issued.
	NotAfter time.Time `json:"notAfter,omitzero"`
	Serial   string    `json:"serial,omitempty"`
}

// errDamagedState: the state object is there but unreadable; the engine
// starts afresh (and overwrites it).
var errDamagedState = errors.New("damaged renewal state")

func stateKey(prefix, name string) string { return prefix + "state/" + name + ".json" }

// loadState reads a certificate's state; none yet is a zero State.
func loadState(ctx context.Context, st store.Store, prefix, name string) (State, error) {
	var s State
	o, err := st.Get(ctx, stateKey(prefix, name))
	if errors.Is(err, store.ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(o.Data, &s); err != nil {
		// A damaged state must not stop renewals forever: start afresh,
		// and say so.
		return State{}, fmt.Errorf("%w: %s is not valid JSON: %v", errDamagedState, stateKey(prefix, name), err)
	}
	return s, nil
}

func saveState(ctx context.Context, st store.Store, prefix, name string, s State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return st.Put(ctx, stateKey(prefix, name), append(data, '\n'), "application/json")
}

// failed records a failed attempt at now: the next attempt waits for the
// back-off step, for a day after an order the CA accepted, and for the
// CA's Retry-After.
func (s *State) failed(now time.Time, msg string, ordered bool, retryAfter time.Time) {
	s.Failures++
	s.LastError = msg
	next := now.Add(backoffSteps[min(s.Failures, len(backoffSteps))-1])
	if ordered {
		next = later(next, s.LastOrder.Add(OrderInterval))
	}
	s.NextAttempt = later(next, retryAfter)
}

// succeeded records an issued certificate.
func (s *State) succeeded(now time.Time, names []string, notAfter time.Time, serial string) {
	s.Failures, s.LastError = 0, ""
	s.LastSuccess, s.Names, s.NotAfter, s.Serial = now, names, notAfter, serial
	s.NextAttempt = s.LastOrder.Add(OrderInterval)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
