package job_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/alert"
	"github.com/certdrop/certdrop/shared/cloudsim"
)

// dingTalkRobot is a DingTalk robot endpoint that checks each post's
// signature as DingTalk does (timestamp in milliseconds within an hour,
// sign = Base64 HmacSHA256 of "timestamp\nsecret" keyed with the
// secret), refusing a bad one with HTTP 200 and errcode 310000, and
// keeps the texts it accepted. A bad signature fails the test when
// strict.
func dingTalkRobot(t *testing.T, secret string, strict bool) (string, func() []string) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ms, _ := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(q.Get("timestamp") + "\n" + secret))
		want := base64.StdEncoding.EncodeToString(m.Sum(nil))
		if q.Get("access_token") != "ROBOT-TOKEN" || q.Get("sign") != want || time.Since(time.UnixMilli(ms)).Abs() > time.Hour {
			if strict {
				t.Errorf("a post badly signed: %s", r.URL.RawQuery)
			}
			io.WriteString(w, `{"errcode":310000,"errmsg":"sign not match"}`)
			return
		}
		var body struct {
			Msgtype string
			Text    struct{ Content string }
		}
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &body); err != nil || body.Msgtype != "text" {
			t.Errorf("body %s", data)
		}
		if strings.Contains(string(data), secret) || strings.Contains(r.URL.RawQuery, secret) {
			t.Errorf("the secret was sent")
		}
		mu.Lock()
		got = append(got, body.Text.Content)
		mu.Unlock()
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/robot/send?access_token=ROBOT-TOKEN", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// TestE2EAlertOncePerDay: a domain failing on every run is told once,
// not once an invocation, to each of two destinations (the second a
// signed DingTalk robot); still failing a day later it is told again
// once; back online, its recovery is told once. The state stays in the
// bucket, small.
func TestE2EAlertOncePerDay(t *testing.T) {
	const secret = "SECabcdef0123456789"
	robot, said := dingTalkRobot(t, secret, true)
	h := newHarnessEnv(t, func(c *cloudsim.Config) {
		c.Domains.CDN[1].State = "offline" // img.example.com
	}, map[string]string{"CERTDROP_WEBHOOK_2_URL": robot, "CERTDROP_WEBHOOK_2_FORMAT": "dingtalk", "CERTDROP_WEBHOOK_2_SECRET": secret,
		"CERTDROP_STATUS_URL": "https://status.example.com/certdrop/"})
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.put("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
	both := func() (json1 []string, ding []string) { return h.webhooks(), said() }
	j, d := both()
	if len(j) != 1 || len(d) != 1 {
		t.Fatalf("the upload: %d and %d posts, want 1 each", len(j), len(d))
	}
	for _, want := range []string{"1 new problem(s)", "InvalidDomain.Offline: 1 target(s): cdn img.example.com", "what to do:",
		"status page: https://status.example.com/certdrop/"} {
		if !strings.Contains(d[0], want) || !strings.Contains(j[0], want) {
			t.Errorf("the first alert lacks %q:\n%s", want, d[0])
		}
	}
	// A timer every 10 minutes for most of a day: not told again.
	for range 5 {
		h.later(10 * time.Minute)
		if _, o := h.invoke(reconcileTimer); states(o)["cdn img.example.com"] != "failed" || o.AlertError != nil {
			t.Fatalf("timer: %v %+v", states(o), o.AlertError)
		}
	}
	h.later(20 * time.Hour)
	h.invoke(reconcileTimer)
	if j, d := both(); len(j) != 1 || len(d) != 1 {
		t.Errorf("after 6 more runs within a day: %d and %d posts, want 1 each:\n%q", len(j), len(d), d)
	}
	// A day after it was told: a reminder, once.
	h.later(4 * time.Hour)
	h.invoke(reconcileTimer)
	h.later(10 * time.Minute)
	h.invoke(reconcileTimer)
	j, d = both()
	if len(j) != 2 || len(d) != 2 || !strings.Contains(d[1], "still: InvalidDomain.Offline: 1 target(s): cdn img.example.com") {
		t.Errorf("a day later: %d and %d posts, want 2 each: %q", len(j), len(d), d)
	}
	// Back online: the recovery, once.
	if err := h.sim.SetDomainState("cdn", "img.example.com", "online"); err != nil {
		t.Fatal(err)
	}
	h.later(10 * time.Minute)
	if _, o := h.invoke(reconcileTimer); states(o)["cdn img.example.com"] != "deployed" {
		t.Fatalf("timer after the fix: %v", states(o))
	}
	h.later(10 * time.Minute)
	h.invoke(reconcileTimer)
	j, d = both()
	if len(j) != 3 || len(d) != 3 || !strings.Contains(d[2], "1 recovered") || !strings.Contains(d[2], "recovered: 1 target(s) deployed or found carrying their certificate: cdn img.example.com") {
		t.Errorf("after the fix: %d and %d posts, want 3 each: %q", len(j), len(d), d)
	}
	obj, err := h.st.Get(h.ctx, alert.StateKey)
	if err != nil {
		t.Fatal(err)
	}
	var st alert.State
	if err := json.Unmarshal(obj.Data, &st); err != nil || len(st.Entries) != 0 {
		t.Errorf("state %s: %v", obj.Data, err)
	}
	for _, s := range append(h.webhooks(), h.logs.String()) {
		if strings.Contains(s, secret) || strings.Contains(s, "ROBOT-TOKEN") {
			t.Errorf("a post or a log holds the secret or the token")
		}
	}
}

// TestE2EAlertNotDeliveredToldAgain: a destination whose robot refuses
// the post (a wrong secret: HTTP 200 with an error code) counts as not
// delivered, in the outcome and the report, and is told again by the next
// invocation; the destination that got it is not.
func TestE2EAlertNotDeliveredToldAgain(t *testing.T) {
	robot, said := dingTalkRobot(t, "SECright", false)
	h := newHarnessEnv(t, func(c *cloudsim.Config) {
		c.Domains.CDN[1].State = "offline"
	}, map[string]string{"CERTDROP_WEBHOOK_2_URL": robot, "CERTDROP_WEBHOOK_2_FORMAT": "dingtalk", "CERTDROP_WEBHOOK_2_SECRET": "SECwrong"})
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.put("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
	outs := h.recorded()
	o := outs[len(outs)-1]
	if e := o.AlertError; e == nil || !strings.Contains(e.Message, "1 of 2 webhook message(s) not delivered") ||
		!strings.Contains(e.Message, "webhook 2") || !strings.Contains(e.Message, "code 310000: sign not match") ||
		strings.Contains(e.Message, "SECwrong") || strings.Contains(e.Message, "ROBOT-TOKEN") {
		t.Errorf("alert error %+v", o.AlertError)
	}
	h.later(10 * time.Minute)
	h.invoke(reconcileTimer)
	if n, d := len(h.webhooks()), said(); n != 1 || len(d) != 0 {
		t.Errorf("%d posts to the first destination (want 1), %d accepted by the robot", n, len(d))
	}
}
