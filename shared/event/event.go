// Package event decodes what Function Compute delivers to certdrop: an OSS
// trigger notification, a timer trigger's tick, or a manual invocation (a
// bundle re-run, or a certificate renewal). The types mirror the wire JSON
// as plain structs. Decoding checks shape only: an event is not trusted,
// and the buckets, keys and certificates it names are checked against the
// configuration and the manifest by the job.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Kind says which of the five event shapes an invocation carried.
type Kind string

// The event kinds.
const (
	KindOSS    Kind = "oss"
	KindTimer  Kind = "timer"
	KindManual Kind = "manual"
	// KindRenew is a manual renewal: {"mode":"renew","certificate":...}.
	KindRenew Kind = "renew"
	// KindRollback is a manual rollback: {"mode":"rollback","to":...}.
	KindRollback Kind = "rollback"
)

// Event is a decoded invocation body: exactly one of OSS, Timer, Manual,
// Renew or Rollback is set, as Kind says.
type Event struct {
	Kind   Kind
	OSS    *OSSEvent
	Timer  *TimerEvent
	Manual *ManualEvent
	Renew  *RenewEvent
	// Rollback is set for KindRollback.
	Rollback *RollbackEvent
}

// ErrUnrecognized is wrapped by Parse's error for a body that is none of
// the five shapes; nothing is called for it.
var ErrUnrecognized = errors.New("unrecognized event")

// expected names the five shapes, for error messages.
const expected = `expected an OSS trigger event {"events":[...]}, a timer event {"triggerTime","triggerName","payload"}, ` +
	`a manual invocation {"bundle":"oss://bucket/prefix/","dryRun":false,"force":false}, ` +
	`a manual renewal {"mode":"renew","certificate":"example.com","force":false,"dryRun":false} ` +
	`or a manual rollback {"mode":"rollback","to":"certdrop-example.com-20270221-534547a4","dryRun":false} ` +
	`(or its release {"mode":"rollback","release":"example.com"})`

// Parse decodes an invocation body into one of the five event shapes.
func Parse(body []byte) (*Event, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, fmt.Errorf("%w: the body is not a JSON object (%v); %s", ErrUnrecognized, err, expected)
	}
	switch {
	case probe["events"] != nil:
		var e OSSEvent
		if err := json.Unmarshal(body, &e); err != nil {
			return nil, fmt.Errorf("OSS event: %w", err)
		}
		if len(e.Events) == 0 {
			return nil, fmt.Errorf("%w: the OSS event has no records", ErrUnrecognized)
		}
		return &Event{Kind: KindOSS, OSS: &e}, nil
	case probe["triggerTime"] != nil || probe["triggerName"] != nil:
		t, err := parseTimer(body)
		if err != nil {
			return nil, err
		}
		return &Event{Kind: KindTimer, Timer: t}, nil
	case probe["bundle"] != nil:
		m, err := parseManual(body)
		if err != nil {
			return nil, err
		}
		return &Event{Kind: KindManual, Manual: m}, nil
	case probe["mode"] != nil && isMode(probe["mode"], ModeRollback):
		r, err := parseRollback(body)
		if err != nil {
			return nil, err
		}
		return &Event{Kind: KindRollback, Rollback: r}, nil
	case probe["mode"] != nil:
		r, err := parseRenew(body)
		if err != nil {
			return nil, err
		}
		return &Event{Kind: KindRenew, Renew: r}, nil
	}
	keys := make([]string, 0, len(probe))
	for k := range probe {
		keys = append(keys, k)
	}
	return nil, fmt.Errorf("%w: fields %s; %s", ErrUnrecognized, strings.Join(keys, ", "), expected)
}

// strictDecode decodes a JSON object refusing any field not spelled exactly
// as one of allowed, so a typo ("dryrun", "prefx") is an error rather than
// a silent default: encoding/json alone matches names case-insensitively.
func strictDecode(data []byte, v any, allowed ...string) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}
	for k := range fields {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("unknown field %q (known: %s)", k, strings.Join(allowed, ", "))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
