package job_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/job"
)

// pinManifest is casManifest without pruning, and warning 200 days before
// expiry so that every certificate of these tests is "expiring".
const pinManifest = `version: 1
defaults:
  delivery: cas
  warnDays: 200
targets:
  - product: cdn
    domains: [www.example.com, img.example.com]
  - product: vod
    domain: vod.example.com
`

var pinDomains = map[string]string{"www.example.com": "cdn", "img.example.com": "cdn", "vod.example.com": "vod"}

// pinState is one entry of an outcome's "pins", read from its JSON (so
// that the tests compile, and fail, without the pins).
type pinState struct {
	State, Key, CertName, Unit, BundleCertName, Message, Hint string
	Error                                                     *struct{ Code string }
}

func pinsOf(t *testing.T, o job.Outcome) []pinState {
	t.Helper()
	js, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Pins []pinState }
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatal(err)
	}
	return v.Pins
}

// pinSetup deploys two certificates for example.com with delivery: cas
// (the first, then the second, the "bad" one, over it in the same
// object), then rolls back to the first with the manual event. It returns
// the two certificates' names in CAS and the bundle of the bad one.
func pinSetup(t *testing.T) (h *harness, good, bad string, badBundle []byte) {
	t.Helper()
	h = newHarness(t, nil)
	h.putQuiet("certdrop/manifest.yaml", []byte(pinManifest))
	var names []string
	for i := 3; i >= 2; i-- {
		l := h.issued(time.Now().Add(-time.Duration(i) * time.Hour))
		badBundle = append(h.fullchain(l), l.KeyPEM...)
		h.put("certs/example.com/bundle.pem", badBundle)
		outs := h.recorded()
		o := outs[len(outs)-1]
		if len(o.Reports) != 1 || o.Reports[0].Summary.Deployed != 3 || len(o.Reports[0].CAS) != 1 {
			t.Fatalf("deploying certificate %d: %s", 4-i, dump(o))
		}
		names = append(names, o.Reports[0].CAS[0].Name)
	}
	good, bad = names[0], names[1]
	code, o := h.invoke(`{"mode":"rollback","to":"` + good + `"}`)
	if code != http.StatusOK || len(o.Reports) != 1 || o.Reports[0].Summary.Deployed != 3 {
		t.Fatalf("rollback: HTTP %d %s", code, dump(o))
	}
	ps := pinsOf(t, o)
	if len(ps) != 1 || ps[0].State != "written" || ps[0].CertName != good || !strings.HasPrefix(ps[0].Key, "certdrop/pins/") {
		t.Errorf("rollback: pins %+v; want one written for %s", ps, good)
	}
	pins, err := h.st.List(h.ctx, "certdrop/pins/")
	if err != nil || len(pins) != 1 || len(ps) != 1 || pins[0].Key != ps[0].Key {
		t.Errorf("pins in the bucket after the rollback: %+v %v; want the one the outcome names", pins, err)
	} else if obj, err := h.st.Get(h.ctx, pins[0].Key); err != nil {
		t.Error(err)
	} else {
		for _, want := range []string{good, `"example.com"`, `"*.example.com"`, `"requestId": "manual-`, `"at":`, `"certId":`} {
			if !strings.Contains(string(obj.Data), want) {
				t.Errorf("the pin lacks %s:\n%s", want, obj.Data)
			}
		}
	}
	assertCarry(t, h, good)
	return h, good, bad, badBundle
}

// assertCarry checks that every target carries name, by reference.
func assertCarry(t *testing.T, h *harness, name string) {
	t.Helper()
	for d, product := range pinDomains {
		if got, _ := h.sim.Installed(product, d); got.CertName != name {
			t.Errorf("%s %s carries %s; want %s", product, d, got.CertName, name)
		}
	}
}

// assertNoSecrets checks the outcomes, webhooks and pins for key material.
func assertNoSecrets(t *testing.T, h *harness) {
	t.Helper()
	var all []string
	for _, o := range h.recorded() {
		all = append(all, dump(o))
	}
	all = append(all, h.webhooks()...)
	pins, _ := h.st.List(h.ctx, "certdrop/pins/")
	for _, p := range pins {
		if obj, err := h.st.Get(h.ctx, p.Key); err == nil {
			all = append(all, string(obj.Data))
		}
	}
	for _, s := range all {
		if strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, simSecret) {
			t.Fatalf("key material or a secret in an outcome, webhook or pin:\n%.400s", s)
		}
	}
}

// heldIn finds the "pinned" note for the bad bundle.
func heldIn(t *testing.T, o job.Outcome, bad, good string) bool {
	t.Helper()
	for _, p := range pinsOf(t, o) {
		if p.State == "pinned" && p.BundleCertName == bad && p.CertName == good && p.Unit == "certs/example.com/" &&
			strings.Contains(p.Hint, "--release") && strings.Contains(p.Hint, `"release"`) {
			return true
		}
	}
	return false
}

// TestE2EPinHoldsAgainstTimer: after a rollback, the daily reconcile finds
// the bad certificate's bundle, the newest in the bucket, and does not
// redeploy it: it says so (pinned, with how to release) in the outcome
// and the webhook; the pinned certificate, running out within warnDays,
// is still reported expiring, naming the pin.
func TestE2EPinHoldsAgainstTimer(t *testing.T) {
	h, good, bad, _ := pinSetup(t)
	sets, hooks := h.allSets(), len(h.webhooks())
	code, o := h.invoke(reconcileTimer)
	// The status is "expiring" (warnDays: 200), which goes before "pinned".
	if code != http.StatusOK || !heldIn(t, o, bad, good) || o.Status != "expiring" {
		t.Errorf("timer after the rollback: HTTP %d, status %q; want the bad bundle pinned:\n%s", code, o.Status, dump(o))
	}
	if n := h.allSets() - sets; n != 0 {
		t.Errorf("the timer sent %d Set calls after the rollback; want 0", n)
	}
	assertCarry(t, h, good)
	if hs := h.webhooks(); len(hs) == hooks || !strings.Contains(strings.Join(hs[hooks:], "\n"), "held back by a rollback pin") {
		t.Errorf("the held bundle was not posted to the webhook: %q", hs[hooks:])
	}
	js, _ := json.Marshal(o)
	var exp struct {
		Expiring []struct{ CertName, Pinned string }
	}
	_ = json.Unmarshal(js, &exp)
	pinned := 0
	for _, e := range exp.Expiring {
		if e.CertName == good && strings.HasPrefix(e.Pinned, "certdrop/pins/") {
			pinned++
		}
	}
	if pinned != len(pinDomains) {
		t.Errorf("expiring: %+v; want the %d targets carrying %s, naming the pin", exp.Expiring, len(pinDomains), good)
	}
	// The pin stays: the next timer holds the bundle back too.
	if _, o = h.invoke(reconcileTimer); !heldIn(t, o, bad, good) || h.allSets() != sets {
		t.Errorf("second timer: %d Set calls, pins %+v", h.allSets()-sets, pinsOf(t, o))
	}
	assertNoSecrets(t, h)
}

// TestE2EPinHoldsAgainstUpload: the bad bundle uploaded again (its OSS
// event) and re-run by the manual event are not deployed, and reported.
func TestE2EPinHoldsAgainstUpload(t *testing.T) {
	h, good, bad, badBundle := pinSetup(t)
	sets, hooks := h.allSets(), len(h.webhooks())
	h.put("certs/example.com/bundle.pem", badBundle)
	outs := h.recorded()
	if o := outs[len(outs)-1]; o.Trigger != "oss" || !heldIn(t, o, bad, good) || len(o.Reports) != 0 || o.Status != "pinned" {
		t.Errorf("upload of the bad bundle: %s", dump(o))
	}
	code, o := h.invoke(`{"bundle":"oss://` + bucket + `/certs/example.com/","force":true}`)
	if code != http.StatusOK || !heldIn(t, o, bad, good) || len(o.Reports) != 0 {
		t.Errorf("manual re-run of the bad bundle: HTTP %d %s", code, dump(o))
	}
	if n := h.allSets() - sets; n != 0 {
		t.Errorf("%d Set calls after the rollback; want 0", n)
	}
	assertCarry(t, h, good)
	// The same bundle held back twice is one problem: said once.
	if hs := h.webhooks(); len(hs) != hooks+1 || !strings.Contains(hs[len(hs)-1], bad) || !strings.Contains(hs[len(hs)-1], "held back by a rollback pin") {
		t.Errorf("the held upload was not posted to the webhook once: %q", hs[hooks:])
	}
	assertNoSecrets(t, h)
}

// TestE2EPinLiftedByNewer: a certificate issued after the rollback is
// deployed when uploaded, and lifts the pin (deleted, and said).
func TestE2EPinLiftedByNewer(t *testing.T) {
	h, good, _, _ := pinSetup(t)
	// Issued after the pin (certificates count whole seconds): the
	// function's clock is moved on so that it is valid.
	l := h.issued(time.Now().Add(2 * time.Second))
	h.later(time.Minute)
	h.put("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
	outs := h.recorded()
	o := outs[len(outs)-1]
	if len(o.Reports) != 1 || o.Reports[0].Summary.Deployed != 3 {
		t.Fatalf("the newer certificate: %s", dump(o))
	}
	newer := o.Reports[0].CAS[0].Name
	ps := pinsOf(t, o)
	if len(ps) != 1 || ps[0].State != "lifted" || ps[0].CertName != good || ps[0].BundleCertName != newer {
		t.Errorf("pins %+v; want the rollback to %s lifted by %s", ps, good, newer)
	}
	if pins, err := h.st.List(h.ctx, "certdrop/pins/"); err != nil || len(pins) != 0 {
		t.Errorf("pins left in the bucket: %+v %v", pins, err)
	}
	assertCarry(t, h, newer)
	if hs := h.webhooks(); !strings.Contains(hs[len(hs)-1], "lifted") {
		t.Errorf("the lifted pin was not posted: %q", hs[len(hs)-1])
	}
	// Nothing holds any more: the timer finds every target unchanged.
	sets := h.allSets()
	if _, o = h.invoke(reconcileTimer); len(pinsOf(t, o)) != 0 || h.allSets() != sets {
		t.Errorf("timer after the lift: %d Set calls, pins %+v", h.allSets()-sets, pinsOf(t, o))
	}
	assertNoSecrets(t, h)
}

// TestE2EPinReleased: the release event deletes the pin, and the next
// reconcile deploys the newest bundle; a release naming no pin is refused;
// a malformed pin is reported and not fatal.
func TestE2EPinReleased(t *testing.T) {
	h, good, bad, _ := pinSetup(t)
	code, o := h.invoke(`{"mode":"rollback","release":"nothing.example.org"}`)
	if code != http.StatusOK || o.Error == nil || o.Error.Code != "NoPin" || !strings.Contains(o.Error.Message, good) {
		t.Errorf("release of nothing: HTTP %d %s", code, dump(o))
	}
	code, o = h.invoke(`{"mode":"rollback","release":"*.example.com"}`)
	ps := pinsOf(t, o)
	if code != http.StatusOK || o.Error != nil || len(ps) != 1 || ps[0].State != "released" || ps[0].CertName != good {
		t.Fatalf("release: HTTP %d %s", code, dump(o))
	}
	if pins, err := h.st.List(h.ctx, "certdrop/pins/"); err != nil || len(pins) != 0 {
		t.Errorf("pins left in the bucket after the release: %+v %v", pins, err)
	}
	h.putQuiet("certdrop/pins/0123.json", []byte(`{"version":1,"names":["x"],"certName":"c","at":"2026-01-01T00:00:00Z","key":"-----BEGIN`))
	code, o = h.invoke(reconcileTimer)
	if code != http.StatusOK || len(o.Reports) != 1 || o.Reports[0].Bundle.CertName != bad || o.Reports[0].Summary.Deployed != 3 {
		t.Errorf("timer after the release: HTTP %d %s", code, dump(o))
	}
	assertCarry(t, h, bad)
	ps = pinsOf(t, o)
	if len(ps) != 1 || ps[0].State != "problem" || ps[0].Key != "certdrop/pins/0123.json" || ps[0].Error == nil || ps[0].Error.Code != "PinUnreadable" {
		t.Errorf("the malformed pin: %+v; want one problem", ps)
	}
	assertNoSecrets(t, h)
}

// TestE2EPinLiftedByRenewal: after a rollback, the manual forced renewal
// (what certdrop renew --force does in the function) obtains a new
// certificate, deploys it and lifts the pin, however the CA dated it (its
// not-before is made to come before the pin).
func TestE2EPinLiftedByRenewal(t *testing.T) {
	h := newRenewHarness(t, func(c *cloudsim.Config) { c.OSS.Triggers = nil })
	h.putQuiet("certdrop/manifest.yaml", []byte(pinManifest+fmt.Sprintf(`certificates:
  - name: example.com
    domains: [example.com, "*.example.com"]
    issuer: %s
    email: ops@example.com
    dns: alidns
`, h.sim.ACMEDirectory())))
	var names []string
	for i, ev := range []string{timerEvent, `{"mode":"renew","certificate":"example.com","force":true}`} {
		_, o := h.invoke(ev)
		if len(o.Reports) != 1 || o.Reports[0].Summary.Deployed != 3 || len(o.Reports[0].CAS) != 1 {
			t.Fatalf("issuance %d: %s", i+1, dump(o))
		}
		names = append(names, o.Reports[0].CAS[0].Name)
	}
	// The function's clock two hours on: the next certificate's not-before
	// comes before the pin's time, as when a CA backdates it.
	h.later(2 * time.Hour)
	if _, o := h.invoke(`{"mode":"rollback","to":"` + names[0] + `"}`); len(o.Reports) != 1 || len(pinsOf(t, o)) != 1 {
		t.Errorf("rollback: %s", dump(o))
	}
	assertCarry(t, h, names[0])
	code, o := h.invoke(`{"mode":"renew","certificate":"example.com","force":true}`)
	if code != http.StatusOK || len(o.Reports) != 1 || o.Reports[0].Summary.Deployed != 3 {
		t.Fatalf("renewal after the rollback: HTTP %d %s", code, dump(o))
	}
	ps := pinsOf(t, o)
	if len(ps) != 1 || ps[0].State != "lifted" || ps[0].CertName != names[0] {
		t.Errorf("pins %+v; want the rollback lifted", ps)
	}
	if pins, err := h.st.List(h.ctx, "certdrop/pins/"); err != nil || len(pins) != 0 {
		t.Errorf("pins left in the bucket: %+v %v", pins, err)
	}
	assertCarry(t, h, o.Reports[0].CAS[0].Name)
}
