package report

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// posted is one request a test endpoint received.
type posted struct {
	query url.Values
	body  map[string]any
}

// chatEndpoint records the posts it receives and answers each with
// answer (HTTP 200).
func chatEndpoint(t *testing.T, answer string) (*httptest.Server, func() []posted) {
	t.Helper()
	var mu sync.Mutex
	var got []posted
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Errorf("body is not JSON: %q", data)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		mu.Lock()
		got = append(got, posted{r.URL.Query(), m})
		mu.Unlock()
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []posted {
		mu.Lock()
		defer mu.Unlock()
		return append([]posted(nil), got...)
	}
}

// The fixed clock of the signature tests, and a secret shaped like
// DingTalk's (SEC…).
var (
	signClock  = time.Date(2025, 3, 1, 8, 0, 0, 123e6, time.UTC)
	signSecret = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
)

// hmacB64 is Base64(HmacSHA256(key, msg)), computed here rather than by
// the code under test.
func hmacB64(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestChatPayloads: each chat format posts the exact body its vendor
// documents; a signed dingtalk destination adds timestamp (milliseconds)
// and sign (Base64 HmacSHA256 of "timestamp\nsecret" keyed with the
// secret, URL-encoded) to the query, a signed feishu one adds timestamp
// (seconds) and sign (Base64 HmacSHA256 of nothing keyed with
// "timestamp\nsecret") to the body. The secret is never sent.
func TestChatPayloads(t *testing.T) {
	n := Notice{Trigger: TriggerTimer, RequestID: "req-1", Title: "certdrop timer: 2 new problem(s)",
		Lines: []string{"ServiceUnavailable on 2 target(s): cdn a.example.com, cdn b.example.com"}, Alert: true,
		Link: "https://certs.example.com/status/index.html"}
	text := n.Text()
	ms := fmt.Sprint(signClock.UnixMilli())
	sec := fmt.Sprint(signClock.Unix())
	tests := []struct {
		name, format, secret string
		wantQuery            map[string]string
		want                 map[string]any
	}{
		{"dingtalk signed", FormatDingTalk, signSecret,
			map[string]string{"access_token": "TOKEN", "timestamp": ms, "sign": hmacB64(signSecret, ms+"\n"+signSecret)},
			map[string]any{"msgtype": "text", "text": map[string]any{"content": text}}},
		{"dingtalk unsigned", FormatDingTalk, "", map[string]string{"access_token": "TOKEN"},
			map[string]any{"msgtype": "text", "text": map[string]any{"content": text}}},
		{"feishu signed", FormatFeishu, signSecret, map[string]string{"access_token": "TOKEN"},
			map[string]any{"msg_type": "text", "content": map[string]any{"text": text},
				"timestamp": sec, "sign": hmacB64(sec+"\n"+signSecret, "")}},
		{"feishu unsigned", FormatFeishu, "", map[string]string{"access_token": "TOKEN"},
			map[string]any{"msg_type": "text", "content": map[string]any{"text": text}}},
		{"wecom", FormatWeCom, "", map[string]string{"access_token": "TOKEN"},
			map[string]any{"msgtype": "text", "text": map[string]any{"content": text}}},
		{"slack", FormatSlack, "", map[string]string{"access_token": "TOKEN"},
			map[string]any{"text": text}},
		{"json", FormatJSON, "", map[string]string{"access_token": "TOKEN"},
			map[string]any{"text": text, "trigger": "timer", "requestId": "req-1", "title": n.Title,
				"lines": []any{n.Lines[0]}, "link": n.Link}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := chatEndpoint(t, `{"errcode":0,"errmsg":"ok"}`)
			w := &Webhook{URL: srv.URL + "/robot/send?access_token=TOKEN", Format: tt.format, Secret: tt.secret, Name: "1",
				Now: func() time.Time { return signClock }}
			if ok, err := w.Post(context.Background(), n); !ok || err != nil {
				t.Fatalf("posted=%v err=%v", ok, err)
			}
			p := got()
			if len(p) != 1 {
				t.Fatalf("%d posts", len(p))
			}
			if len(p[0].query) != len(tt.wantQuery) {
				t.Errorf("query %v, want %v", p[0].query, tt.wantQuery)
			}
			for k, v := range tt.wantQuery {
				if p[0].query.Get(k) != v {
					t.Errorf("query %s = %q, want %q", k, p[0].query.Get(k), v)
				}
			}
			if !reflect.DeepEqual(p[0].body, tt.want) {
				t.Errorf("body\n%v\nwant\n%v", p[0].body, tt.want)
			}
			if s := fmt.Sprint(p[0].query, p[0].body); tt.secret != "" && strings.Contains(s, tt.secret) {
				t.Errorf("the secret was sent")
			}
		})
	}
}

// TestDingTalkSignEncoded: the sign, Base64 with + / and =, is
// URL-encoded in the query (a raw + would read as a space).
func TestDingTalkSignEncoded(t *testing.T) {
	var raw string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { raw = r.URL.RawQuery }))
	defer srv.Close()
	// A clock whose signature holds a '+' or a '/': try a few seconds.
	for i := range 50 {
		at := signClock.Add(time.Duration(i) * time.Second)
		_, sig := DingTalkSign(signSecret, at)
		if !strings.ContainsAny(sig, "+/") {
			continue
		}
		w := &Webhook{URL: srv.URL + "/robot/send?access_token=T", Format: FormatDingTalk, Secret: signSecret, Now: func() time.Time { return at }}
		if err := w.send(context.Background(), w.chat("x")); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(raw, "sign="+url.QueryEscape(sig)) || strings.ContainsAny(strings.SplitN(raw, "sign=", 2)[1], "+/=") {
			t.Errorf("query %q does not carry %q URL-encoded", raw, sig)
		}
		return
	}
	t.Fatal("no signature with + or / in 50 tries")
}

// TestWeComClipped: a WeCom text holds at most 2048 bytes; a longer
// message is cut on a character boundary.
func TestWeComClipped(t *testing.T) {
	srv, got := chatEndpoint(t, `{"errcode":0,"errmsg":"ok"}`)
	lines := make([]string, 19)
	for i := range lines {
		lines[i] = strings.Repeat("证书", 60)
	}
	w := &Webhook{URL: srv.URL + "/cgi-bin/webhook/send?key=K", Format: FormatWeCom}
	if _, err := w.Post(context.Background(), Notice{Title: "t", Lines: lines, Alert: true}); err != nil {
		t.Fatal(err)
	}
	c := got()[0].body["text"].(map[string]any)["content"].(string)
	if len(c) > 2048 || !strings.HasSuffix(c, "…") || !strings.HasPrefix(c, "t\n- 证书") || strings.ContainsRune(c, '\uFFFD') {
		t.Errorf("content of %d bytes: %.40q…%q", len(c), c, c[max(0, len(c)-10):])
	}
}

// TestChatRefusal: a chat that answers 200 with an error code (a wrong
// signature) did not deliver the message: the post fails, once (the same
// post would be refused again), and the error says the vendor's code and
// message, not the URL's token or the secret.
func TestChatRefusal(t *testing.T) {
	tests := []struct{ format, answer, want string }{
		{FormatDingTalk, `{"errcode":310000,"errmsg":"sign not match"}`, "code 310000: sign not match"},
		{FormatFeishu, `{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`, "code 19021"},
		{FormatWeCom, `{"errcode":93000,"errmsg":"invalid webhook url"}`, "code 93000"},
		{FormatFeishu, `{"StatusCode":0,"StatusMessage":"success","code":0}`, ""},
		{FormatSlack, `no_text`, ""}, // Slack's refusals are HTTP statuses
		{FormatDingTalk, `<html>ok</html>`, ""},
	}
	for _, tt := range tests {
		srv, got := chatEndpoint2(t, tt.answer)
		secret := ""
		if tt.format == FormatDingTalk || tt.format == FormatFeishu {
			secret = signSecret
		}
		w := &Webhook{URL: srv.URL + "/hook?access_token=TOKEN", Format: tt.format, Secret: secret, Name: "3"}
		_, err := w.Post(context.Background(), Notice{Title: "t", Alert: true})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s %s: %v", tt.format, tt.answer, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "webhook 3 http://127.0.0.1")):
			t.Errorf("%s %s: %v, want %q", tt.format, tt.answer, err, tt.want)
		case tt.want != "" && got() != 1:
			t.Errorf("%s: %d tries, want 1", tt.format, got())
		case err != nil && (strings.Contains(err.Error(), "TOKEN") || strings.Contains(err.Error(), signSecret)):
			t.Errorf("the error leaks: %v", err)
		}
	}
}

// chatEndpoint2 answers every post with answer and counts them.
func chatEndpoint2(t *testing.T, answer string) (*httptest.Server, func() int) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// TestWebhooksFromEnv: several destinations, numbered 1 to 8, the
// unnumbered variables being destination 1; mistakes are refused at start
// without repeating a secret.
func TestWebhooksFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	ws, err := WebhooksFromEnv(env(map[string]string{
		"CERTDROP_WEBHOOK_URL":      "https://oapi.dingtalk.com/robot/send?access_token=x",
		"CERTDROP_WEBHOOK_FORMAT":   "dingtalk",
		"CERTDROP_WEBHOOK_SECRET":   " " + signSecret + "\n",
		"CERTDROP_WEBHOOK_2_URL":    "https://open.feishu.cn/open-apis/bot/v2/hook/x",
		"CERTDROP_WEBHOOK_2_FORMAT": "feishu",
		"CERTDROP_WEBHOOK_2_SECRET": "feishu-secret",
		"CERTDROP_WEBHOOK_5_URL":    "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x",
		"CERTDROP_WEBHOOK_5_FORMAT": "WeCom",
		"CERTDROP_WEBHOOK_5_ON":     "always",
	}))
	if err != nil {
		t.Fatal(err)
	}
	type dest struct {
		name, format, secret string
		always               bool
	}
	var got []dest
	for _, w := range ws {
		got = append(got, dest{w.Name, w.Format, w.Secret, w.Always})
	}
	want := []dest{{"1", FormatDingTalk, signSecret, false}, {"2", FormatFeishu, "feishu-secret", false}, {"5", FormatWeCom, "", true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	for _, bad := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"CERTDROP_WEBHOOK_URL": "https://x", "CERTDROP_WEBHOOK_1_URL": "https://y"}, "name the same destination"},
		{map[string]string{"CERTDROP_WEBHOOK_9_URL": "https://x"}, "numbered 1 to 8"},
		{map[string]string{"CERTDROP_WEBHOOK_3_SECRET": "s3cr3t-value"}, "CERTDROP_WEBHOOK_3_SECRET is set but CERTDROP_WEBHOOK_3_URL is not"},
		{map[string]string{"CERTDROP_WEBHOOK_2_URL": "https://x", "CERTDROP_WEBHOOK_2_FORMAT": "slack", "CERTDROP_WEBHOOK_2_SECRET": "s3cr3t-value"}, "the slack format is not signed"},
		{map[string]string{"CERTDROP_WEBHOOK_URL": "https://x", "CERTDROP_WEBHOOK_SECRET": "s3cr3t-value"}, "the json format is not signed"},
		{map[string]string{"CERTDROP_WEBHOOK_4_URL": "http://hooks.example.com/a?token=T", "CERTDROP_WEBHOOK_4_FORMAT": "feishu",
			"CERTDROP_WEBHOOK_4_SECRET": "s3cr3t-value"}, "CERTDROP_WEBHOOK_4_URL: http://hooks.example.com/… : plain http"},
		{map[string]string{"CERTDROP_WEBHOOK_6_URL": "https://x", "CERTDROP_WEBHOOK_6_FORMAT": "teams"}, "CERTDROP_WEBHOOK_6_FORMAT"},
	} {
		_, err := WebhooksFromEnv(env(bad.env))
		if err == nil || !strings.Contains(err.Error(), strings.Replace(bad.want, "… :", "…:", 1)) {
			t.Errorf("%v: %v, want %q", bad.env, err, bad.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("the error repeats the secret: %v", err)
		}
	}
}

// TestWebhookPrintsNoSecret: a Webhook printed (%v, %+v, %#v, %s) or
// logged names its destination, never its secret or its URL's token.
func TestWebhookPrintsNoSecret(t *testing.T) {
	w := &Webhook{URL: "https://oapi.dingtalk.com/robot/send?access_token=TOKEN", Format: FormatDingTalk, Secret: signSecret, Name: "2"}
	var log bytes.Buffer
	slog.New(slog.NewJSONHandler(&log, nil)).Info("x", "webhook", w, "value", *w)
	for _, s := range []string{fmt.Sprint(w), fmt.Sprintf("%+v", w), fmt.Sprintf("%#v", *w), fmt.Sprintf("%s", *w), log.String()} {
		if strings.Contains(s, signSecret) || strings.Contains(s, "TOKEN") || !strings.Contains(s, "webhook 2 (dingtalk, https://oapi.dingtalk.com/…, signed)") {
			t.Errorf("printed: %s", s)
		}
	}
}
