package event

import (
	"fmt"
	"strings"
)

// TimerEvent is the body Function Compute posts for a timer trigger.
// Payload is always a string: the trigger's configured payload.
type TimerEvent struct {
	TriggerTime string `json:"triggerTime"`
	TriggerName string `json:"triggerName"`
	Payload     string `json:"payload"`
	// Reconcile is the decoded payload.
	Reconcile Reconcile `json:"-"`
}

// Reconcile is the timer payload certdrop understands:
// {"mode":"reconcile","prefix":"certs/"}.
type Reconcile struct {
	Mode string `json:"mode"`
	// Prefix is where the bundles live in the bucket; empty means the
	// configured trigger prefix, and the job refuses one outside it.
	Prefix string `json:"prefix"`
	// Bucket, when set, must be the configured bucket (CERTDROP_BUCKET):
	// the job refuses any other. Events never choose the bucket.
	Bucket string `json:"bucket,omitempty"`
	// DryRun describes and reports without setting anything.
	DryRun bool `json:"dryRun,omitempty"`
}

// ModeReconcile is the only timer mode.
const ModeReconcile = "reconcile"

func parseTimer(body []byte) (*TimerEvent, error) {
	var t TimerEvent
	if err := strictDecode(body, &t, "triggerTime", "triggerName", "payload"); err != nil {
		return nil, fmt.Errorf("timer event: %w", err)
	}
	if strings.TrimSpace(t.Payload) == "" {
		return nil, fmt.Errorf(`%w: the timer trigger %q has no payload; set it to {"mode":"reconcile","prefix":"certs/"}`,
			ErrUnrecognized, t.TriggerName)
	}
	if err := strictDecode([]byte(t.Payload), &t.Reconcile, "mode", "prefix", "bucket", "dryRun"); err != nil {
		return nil, fmt.Errorf(`%w: the timer payload is not {"mode":"reconcile","prefix":"certs/"}: %v`, ErrUnrecognized, err)
	}
	if t.Reconcile.Mode != ModeReconcile {
		return nil, fmt.Errorf(`%w: timer payload mode %q; the only mode is "reconcile"`, ErrUnrecognized, t.Reconcile.Mode)
	}
	return &t, nil
}
