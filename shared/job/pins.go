package job

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/pin"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// Pin note states (PinNote.State).
const (
	// PinWritten: a rollback wrote a pin; it holds until a certificate
	// issued after it arrives, or a release.
	PinWritten = "written"
	// PinHeld: a bundle issued before the pin was not deployed: it would
	// have undone the rollback.
	PinHeld = "pinned"
	// PinLifted: a bundle issued after the pin was deployed and the pin
	// deleted.
	PinLifted = "lifted"
	// PinReleased: a release deleted the pin (or, dry run, would).
	PinReleased = "released"
	// PinProblem: a pin that could not be read, written or deleted, or is
	// malformed; it is not in force (or still is, for a failed deletion).
	PinProblem = "problem"
)

// Pin problem codes: the code of a PinProblem note's error, and of the
// failures ReleasePins returns.
const (
	// CodePinNotWritten: a rollback's pin could not be written.
	CodePinNotWritten = "PinNotWritten"
	// CodePinNotDeleted: a released or lifted pin could not be deleted.
	CodePinNotDeleted = "PinNotDeleted"
	// CodePinUnreadable: a pin could not be read or is malformed.
	CodePinUnreadable = "PinUnreadable"
	// CodePinsUnlisted: the pins could not be listed.
	CodePinsUnlisted = "PinsUnlisted"
	// CodeNoPin: a release matches no pin.
	CodeNoPin = "NoPin"
)

// PinNote is what a rollback's pin did in this run. It names the pin and
// the certificate rolled back to, and, for a bundle held back or lifting
// the pin, the bundle. No key material.
type PinNote struct {
	State string `json:"state"`
	// Key is the pin's object key in CERTDROP_BUCKET.
	Key   string   `json:"key"`
	Names []string `json:"names,omitempty"`
	// CertName is the certificate rolled back to; PinnedAt when, and
	// PinnedBy the request (or command line) that did it.
	CertName string     `json:"certName,omitempty"`
	PinnedAt *time.Time `json:"pinnedAt,omitempty"`
	PinnedBy string     `json:"pinnedBy,omitempty"`
	// Unit, Keys, BundleCertName and NotBefore describe the bundle held
	// back, or the one that lifted the pin.
	Unit           string     `json:"unit,omitempty"`
	Keys           []string   `json:"keys,omitempty"`
	BundleCertName string     `json:"bundleCertName,omitempty"`
	NotBefore      *time.Time `json:"notBefore,omitempty"`
	Message        string     `json:"message"`
	Hint           string     `json:"hint,omitempty"`
	// Error is a pin problem's cause.
	Error *report.Error `json:"error,omitempty"`
}

// Failed reports whether the note is a pin that could not be written or
// deleted: the rollback is not held, or a lifted or released pin is still
// in force. A pin that cannot be read is reported, not a failure (the run
// goes on without it).
func (n PinNote) Failed() bool {
	return n.State == PinProblem && n.Error != nil && (n.Error.Code == CodePinNotWritten || n.Error.Code == CodePinNotDeleted)
}

// releaseHint says how to lift a pin.
func releaseHint(p *pin.Pin) string {
	name := p.CertName
	for _, n := range p.Names {
		if !strings.HasPrefix(n, "*.") {
			name = n
			break
		}
	}
	return fmt.Sprintf(`to deploy it anyway, release the rollback: certdrop rollback --release %s, or the event {"mode":"rollback","release":%q}; a certificate issued after the rollback lifts it by itself`, name, name)
}

// note starts a pin note for p.
func note(state string, p *pin.Pin) PinNote {
	at := p.At.UTC()
	by := p.Trigger
	if p.RequestID != "" {
		by += " " + p.RequestID
	}
	return PinNote{State: state, Key: p.Key(), Names: p.Names, CertName: p.CertName, PinnedAt: &at, PinnedBy: strings.TrimSpace(by)}
}

// pinBook is the rollback pins in CERTDROP_BUCKET for one run, read once
// on first use.
type pinBook struct {
	// open opens the bucket.
	open func(context.Context) (store.Store, error)
	log  *slog.Logger
	set  *pin.Set
	read bool
	// renewed are the serial numbers (hex, lower case) of the
	// certificates the run's renewal obtained: ordered after any pin in
	// force, they lift it whatever their backdated not-before says.
	renewed map[string]bool
}

// load reads the pins once; the notes are its problems, on the first
// call only. Pins that cannot be read or are malformed are reported and
// not in force; a listing that fails is reported and no pin is in force
// for the run (the deployments go on: holding every renewal back because
// the pins cannot be listed would let certificates expire), and alerted.
func (b *pinBook) load(ctx context.Context) (*pin.Set, Result) {
	if b.read {
		return b.set, Result{}
	}
	b.read = true
	var res Result
	st, err := b.open(ctx)
	if err == nil {
		var problems []pin.Problem
		b.set, problems, err = pin.Load(ctx, st)
		for _, p := range problems {
			res.Pins = append(res.Pins, pinProblem(b.log, p.Key, CodePinUnreadable, p.Err,
				"a pin that cannot be read is not in force: delete it, or roll back again to rewrite it"))
		}
	}
	if err != nil {
		res.Pins = append(res.Pins, pinProblem(b.log, pin.Prefix, CodePinsUnlisted, err,
			storeHint(err, "oss:ListObjects under "+pin.Prefix+" and oss:GetObject on "+pin.Prefix+"*")+
				"; no rollback pin was in force for this run"))
	}
	return b.set, res
}

// pinProblem is the note of a pin problem.
func pinProblem(log *slog.Logger, key, code string, err error, hint string) PinNote {
	log.Error("rollback pin problem", "key", shortKey(key), "code", code, "error", err.Error())
	return PinNote{State: PinProblem, Key: shortKey(key), Message: clip(err.Error()), Hint: hint,
		Error: &report.Error{Code: code, Message: clip(err.Error()), Hint: hint, Transient: transient(err)}}
}

// judge says what the pin for a planned bundle's names (if any) means
// for it, and returns that pin. A certificate the run's renewal obtained
// was ordered after any pin in force: it lifts the pin even when its
// not-before, backdated by the CA (an hour, for Let's Encrypt), is before
// the pin's time.
func (b *pinBook) judge(ctx context.Context, p *plan.Plan) (pin.Verdict, *pin.Pin, Result) {
	set, res := b.load(ctx)
	pn := set.For(pin.Names(p.Bundle.SANs, p.Bundle.CommonName))
	v := pn.Judge(p.Bundle.Fingerprint, p.Bundle.NotBefore)
	if v == pin.Held && p.Bundle.Serial != "" && b.renewed[strings.ToLower(p.Bundle.Serial)] {
		v = pin.Lifts
	}
	return v, pn, res
}

// held reports whether a rollback pin holds a planned bundle back (the
// note says so). It returns the pin the bundle lifts, if any: the caller
// lifts it once the bundle is deployed.
func (b *pinBook) held(ctx context.Context, p *plan.Plan, unit string, keys []string) (bool, *pin.Pin, Result) {
	v, pn, res := b.judge(ctx, p)
	switch v {
	case pin.Held:
		n := note(PinHeld, pn)
		nb := p.Bundle.NotBefore.UTC()
		n.Unit, n.Keys, n.BundleCertName, n.NotBefore = shortKey(unit), shortKeys(keys), p.CertName, &nb
		n.Message = fmt.Sprintf("not deployed: issued %s, before the rollback to %s at %s",
			nb.Format(time.RFC3339), pn.CertName, pn.At.UTC().Format(time.RFC3339))
		n.Hint = releaseHint(pn)
		b.log.Info("bundle held back by a rollback pin", "unit", shortKey(unit), "certName", p.CertName, "pin", pn.Key())
		res.Pins = append(res.Pins, n)
		return true, nil, res
	case pin.Lifts:
		return false, pn, res
	}
	return false, nil, res
}

// lift deletes the pin a newer bundle lifted, once it was deployed (not
// on a dry run).
func (b *pinBook) lift(ctx context.Context, pn *pin.Pin, rep *report.Report, dryRun bool) Result {
	if pn == nil || rep == nil {
		return Result{}
	}
	n := note(PinLifted, pn)
	n.Unit, n.Keys, n.BundleCertName = "", rep.Bundle.Keys, rep.Bundle.CertName
	if dryRun {
		n.Message = fmt.Sprintf("would lift the rollback to %s: %s was issued after it (dry run: the pin is kept)", pn.CertName, rep.Bundle.CertName)
		return Result{Pins: []PinNote{n}}
	}
	st, err := b.open(ctx)
	if err == nil {
		err = pin.Delete(ctx, st, pn.Key())
	}
	if err != nil {
		return Result{Pins: []PinNote{pinProblem(b.log, pn.Key(), CodePinNotDeleted, err, storeHint(err, "oss:DeleteObject on "+pin.Prefix+"*")+
			"; the pin stays, and holds back only certificates issued before it")}}
	}
	b.set.Remove(pn)
	n.Message = fmt.Sprintf("the rollback to %s is lifted: %s was issued after it and deployed; the pin was deleted", pn.CertName, rep.Bundle.CertName)
	b.log.Info("rollback pin lifted", "pin", pn.Key(), "by", rep.Bundle.CertName)
	return Result{Pins: []PinNote{n}}
}

// WritePin records in st the pin that keeps a rollback in force (p,
// from hub.PinOf). The note says it holds, or, with the error, that it
// was not written: the rollback is done but not pinned. The function's
// rollback and the command line's write pins with it.
func WritePin(ctx context.Context, st store.Store, p *pin.Pin, log *slog.Logger) (PinNote, error) {
	log = orDiscard(log)
	if _, err := pin.Write(ctx, st, p); err != nil {
		return pinNotWritten(log, p, err), err
	}
	n := note(PinWritten, p)
	n.Message = fmt.Sprintf("the rollback to %s holds: bundles for %s issued before %s are not deployed", p.CertName,
		strings.Join(p.Names, ", "), p.At.Format(time.RFC3339))
	n.Hint = releaseHint(p)
	return n, nil
}

// orDiscard is log, or when it is nil a logger that discards.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// pinNotWritten is the note of a pin that could not be written.
func pinNotWritten(log *slog.Logger, p *pin.Pin, err error) PinNote {
	return pinProblem(log, p.Key(), CodePinNotWritten, err, storeHint(err, "oss:PutObject on "+pin.Prefix+"*")+
		"; the rollback is done but not pinned: the next reconcile redeploys the newest bundle unless it is removed from the bucket")
}

// ReleasePins lifts the rollback pins in st that name matches (the
// certificate rolled back to, or one of its names); on a dry run it only
// says which it would. Every matched pin is deleted: a deletion that
// fails is a PinNotDeleted problem and the others are still deleted, so
// one pass lifts all it can and reports every failure. The notes are, in
// order, the pins that could not be read, then one per matched pin. The
// error, a *Failure, says that the pins could not be listed (PinsUnlisted)
// or that none matches (NoPin, naming those in force). The function's
// release and the command line's run it.
func ReleasePins(ctx context.Context, st store.Store, name string, dryRun bool, log *slog.Logger) ([]PinNote, error) {
	log = orDiscard(log)
	book := pinBook{open: func(context.Context) (store.Store, error) { return st, nil }, log: log}
	set, res := book.load(ctx)
	notes := res.Pins
	if set == nil {
		return notes, fail(CodePinsUnlisted, "the rollback pins could not be listed", "see the pin problem above")
	}
	matched, others := set.Match(name, 10)
	if len(matched) == 0 {
		return notes, fail(CodeNoPin, pin.NoMatch(shortKey(name), others), "name the certificate rolled back to, or one of its domain names")
	}
	for _, p := range matched {
		n := note(PinReleased, p)
		if dryRun {
			n.Message = fmt.Sprintf("would release the rollback to %s (dry run: the pin is kept)", p.CertName)
			notes = append(notes, n)
			continue
		}
		if err := pin.Delete(ctx, st, p.Key()); err != nil {
			notes = append(notes, pinProblem(log, p.Key(), CodePinNotDeleted, err, storeHint(err, "oss:DeleteObject on "+pin.Prefix+"*")))
			continue
		}
		set.Remove(p)
		n.Message = fmt.Sprintf("released the rollback to %s: the next reconcile or upload deploys the newest bundle for %s",
			p.CertName, strings.Join(p.Names, ", "))
		log.Info("rollback pin released", "pin", p.Key(), "certName", p.CertName)
		notes = append(notes, n)
	}
	return notes, nil
}

// pinNotice adds the pin notes to a webhook message; it returns what to
// put in the title: bundles held back and problems are alerts, as are
// pins written, lifted and released (a person changed, or a renewal
// ended, a rollback).
func pinNotice(out *Outcome, n *report.Notice) []string {
	count := map[string]int{}
	for _, p := range out.Pins {
		count[p.State]++
		l := fmt.Sprintf("rollback pin %s (%s): %s", p.State, p.CertName, p.Message)
		if p.Unit != "" {
			l = fmt.Sprintf("rollback pin %s: %s (%s): %s", p.State, p.Unit, p.BundleCertName, p.Message)
		}
		if p.State == PinProblem {
			l = fmt.Sprintf("rollback pin problem: %s: %s", p.Key, p.Message)
		}
		if p.Hint != "" {
			l += " (" + p.Hint + ")"
		}
		n.Lines = append(n.Lines, l)
	}
	var what []string
	for _, s := range []struct{ state, text string }{
		{PinHeld, "bundle(s) held back by a rollback pin"}, {PinWritten, "rollback pin(s) written"},
		{PinLifted, "rollback pin(s) lifted by a newer certificate"}, {PinReleased, "rollback pin(s) released"},
		{PinProblem, "rollback pin problem(s)"},
	} {
		if count[s.state] > 0 {
			what = append(what, fmt.Sprintf("%d %s", count[s.state], s.text))
		}
	}
	return what
}
