package report

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/certdrop/certdrop/internal/secureurl"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/fanout"
)

// Webhook formats.
const (
	FormatJSON     = "json"
	FormatDingTalk = "dingtalk"
	FormatFeishu   = "feishu"
	FormatSlack    = "slack"
	// FormatWeCom is a WeCom (企业微信) group robot: msgtype text, no
	// signature (its webhook key is the credential).
	FormatWeCom = "wecom"
)

// MaxWebhooks bounds the destinations: CERTDROP_WEBHOOK_1_* to
// CERTDROP_WEBHOOK_8_* (CERTDROP_WEBHOOK_* is another name for the first).
const MaxWebhooks = config.MaxWebhooks

// How a message is posted: a failed post (no answer in time, a network
// error, an answer other than 2xx) is tried once more after a pause, each
// try bounded, so that posting one message takes at most PostBudget.
const (
	PostAttempts       = 2
	PostAttemptTimeout = 3 * time.Second
	postPause          = 500 * time.Millisecond
	// PostBudget is the longest one message's posting takes.
	PostBudget = PostAttempts*PostAttemptTimeout + postPause
)

// Webhook posts a short summary of a run to a chat or an HTTP endpoint.
// A webhook failure is returned to the caller, which says in its outcome
// that the message was not delivered; it never fails a run.
type Webhook struct {
	// URL receives the POST. It often embeds a token (DingTalk's
	// access_token), so it is never logged or put in an error whole.
	URL string
	// Format is json (default), dingtalk, feishu, slack or wecom.
	Format string
	// Secret is the robot's signing secret (dingtalk, feishu): each post
	// carries a timestamp and its signature (sign.go). It is never
	// logged, put in an error or in a report; String hides it.
	Secret string
	// Name is the destination's number ("1" to "8"): errors name it, and
	// the alert state remembers per destination what it was told.
	Name string
	// Always posts after every run, not only after runs with failures.
	Always bool
	// Client sends the request; nil means a client that follows no
	// redirect (the body must not go elsewhere).
	Client *http.Client
	// AttemptTimeout bounds each try; 0 means PostAttemptTimeout. A try
	// never outlasts the context's deadline either.
	AttemptTimeout time.Duration
	// Now is the clock a signature's timestamp is taken from; nil means
	// time.Now.
	Now func() time.Time
}

// String names the destination without its URL's path and query (a
// chat's token) or its secret, so that printing a Webhook leaks neither.
func (w Webhook) String() string {
	s := fmt.Sprintf("webhook %s (%s, %s", w.Name, cmp.Or(w.Format, FormatJSON), redactURL(w.URL))
	if w.Secret != "" {
		s += ", signed"
	}
	return s + ")"
}

// GoString is String: %#v prints no secret either.
func (w Webhook) GoString() string { return w.String() }

// LogValue is String: a Webhook logged with slog shows no secret.
func (w Webhook) LogValue() slog.Value { return slog.StringValue(w.String()) }

// WebhooksFromEnv reads the webhook destinations, at most MaxWebhooks:
// destination n (1 to 8) is CERTDROP_WEBHOOK_<n>_URL, _FORMAT, _SECRET
// and _ON; CERTDROP_WEBHOOK_URL, _FORMAT, _SECRET and _ON are another name
// for destination 1 (setting both is refused). _FORMAT is json (default),
// dingtalk, feishu, slack or wecom; _SECRET is a dingtalk or feishu
// robot's signing secret; _ON is "failure" (default) or "always". It
// returns no destination when no URL is set. Its errors never repeat a
// secret or a URL's path and query.
func WebhooksFromEnv(getenv func(string) string) ([]*Webhook, error) {
	var out []*Webhook
	for n := 1; n <= MaxWebhooks; n++ {
		at := n
		if n == 1 && anySet(getenv, 0) {
			if anySet(getenv, 1) {
				return nil, fmt.Errorf("%s and %s name the same destination: set one of them",
					config.WebhookURL, config.WebhookVar(1, config.WebhookURL))
			}
			at = 0
		}
		w, err := webhookFromEnv(getenv, at, strconv.Itoa(n))
		if err != nil {
			return nil, err
		}
		if w != nil {
			out = append(out, w)
		}
	}
	if anySet(getenv, MaxWebhooks+1) {
		return nil, fmt.Errorf("%s: destinations are numbered 1 to %d", config.WebhookVar(MaxWebhooks+1, config.WebhookURL), MaxWebhooks)
	}
	return out, nil
}

// webhookFields are a destination's variables, by their unnumbered names.
var webhookFields = []string{config.WebhookURL, config.WebhookFormat, config.WebhookSecret, config.WebhookOn}

// anySet reports whether one of destination n's variables is set (n = 0:
// the unnumbered names).
func anySet(getenv func(string) string, n int) bool {
	for _, f := range webhookFields {
		if getenv(config.WebhookVar(n, f)) != "" {
			return true
		}
	}
	return false
}

// webhookFromEnv reads destination n's variables (n = 0: the unnumbered
// names), named name; nil when none is set.
func webhookFromEnv(getenv func(string) string, n int, name string) (*Webhook, error) {
	v := func(field string) string { return config.WebhookVar(n, field) }
	u := getenv(v(config.WebhookURL))
	if u == "" {
		for _, f := range webhookFields[1:] {
			if getenv(v(f)) != "" {
				return nil, fmt.Errorf("%s is set but %s is not", v(f), v(config.WebhookURL))
			}
		}
		return nil, nil
	}
	w := &Webhook{URL: u, Name: name, Format: strings.ToLower(getenv(v(config.WebhookFormat))),
		Secret: strings.TrimSpace(getenv(v(config.WebhookSecret)))}
	switch w.Format {
	case "", FormatJSON, FormatDingTalk, FormatFeishu, FormatSlack, FormatWeCom:
	default:
		return nil, fmt.Errorf("%s %q: use json, dingtalk, feishu, slack or wecom", v(config.WebhookFormat), w.Format)
	}
	if w.Secret != "" && w.Format != FormatDingTalk && w.Format != FormatFeishu {
		// Said rather than ignored: a person who set a secret expects
		// signed posts.
		return nil, fmt.Errorf("%s is set but the %s format is not signed: only dingtalk and feishu robots take a signing secret",
			v(config.WebhookSecret), cmp.Or(w.Format, FormatJSON))
	}
	switch on := strings.ToLower(getenv(v(config.WebhookOn))); on {
	case "", "failure":
	case "always":
		w.Always = true
	default:
		return nil, fmt.Errorf("%s %q: use failure or always", v(config.WebhookOn), on)
	}
	if err := checkURL(u); err != nil {
		return nil, fmt.Errorf("%s: %w", v(config.WebhookURL), err)
	}
	return w, nil
}

// checkURL refuses a webhook URL no post could ever reach, or one that
// would send the run's summary in clear over the network: it must be an
// absolute https URL, or http to a loopback host (a local test endpoint).
// Its errors name at most the scheme and host: the path and query of a
// chat webhook carry its token.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case !u.IsAbs():
		return errors.New("not an absolute URL: give https://host/path")
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("the scheme %q cannot be posted to: use https (or http to a loopback host)", u.Scheme)
	case u.Hostname() == "":
		return errors.New("no host")
	case u.Scheme == "http" && !secureurl.IsLoopback(u.Hostname()):
		return fmt.Errorf("%s: plain http is allowed only to a loopback host (127.0.0.0/8, ::1, localhost): "+
			"the summary would cross the network in clear; use https", redactURL(raw))
	}
	return nil
}

// Notify posts the summary of r when the run had failures or skipped
// targets (skipped_newer: a renewal that did not happen), when it was a
// rollback (production went back to an earlier certificate: people must
// hear of it), or Always is set; it reports whether it posted.
func (w *Webhook) Notify(ctx context.Context, r *Report) (bool, error) {
	if !w.Wants(r) {
		return false, nil
	}
	return true, w.send(ctx, w.payload(r))
}

// Wants reports whether Notify posts r.
func (w *Webhook) Wants(r *Report) bool {
	return w.Always || !r.Summary.OK() || r.Summary.SkippedNewer > 0 || r.Mode != ""
}

// Notice is a message about an invocation that no run's report carries:
// bundles refused before any call, a run that could not start, a report
// that could not be written, certificates expiring with nothing newer to
// deploy.
type Notice struct {
	Trigger   string
	RequestID string
	// Title is the first line ("certdrop oss: 1 invalid bundle").
	Title string
	// Lines are the details, one a line; at most MaxNoticeLines are posted.
	Lines []string
	// Alert marks a notice about a failure or an expiring certificate: it
	// is posted whatever Always says.
	Alert bool
	// Link, when set, is where the whole list is (the status page): the
	// message ends with it.
	Link string
}

// MaxNoticeLines bounds the lines a notice posts (the rest are counted).
const MaxNoticeLines = 20

// Text renders the notice as the message a chat shows.
func (n Notice) Text() string {
	var b strings.Builder
	b.WriteString(n.Title)
	b.WriteString("\n")
	for i, l := range n.Lines {
		if i == MaxNoticeLines {
			if n.Link != "" {
				fmt.Fprintf(&b, "(and %d more: see the status page)\n", len(n.Lines)-i)
			} else {
				fmt.Fprintf(&b, "(and %d more; see the report of request %s)\n", len(n.Lines)-i, n.RequestID)
			}
			break
		}
		b.WriteString("- " + l + "\n")
	}
	if n.Link != "" {
		b.WriteString("status page: " + n.Link + "\n")
	}
	return b.String()
}

// Post sends the notice when it is an alert or Always is set; it reports
// whether it posted.
func (w *Webhook) Post(ctx context.Context, n Notice) (bool, error) {
	if !n.Alert && !w.Always {
		return false, nil
	}
	text := n.Text()
	var js any = map[string]any{"text": text, "trigger": n.Trigger, "requestId": n.RequestID, "title": n.Title,
		"lines": n.Lines[:min(len(n.Lines), MaxNoticeLines)], "link": n.Link}
	if w.Format != "" && w.Format != FormatJSON {
		js = w.chat(text)
	}
	return true, w.send(ctx, js)
}

// send posts one JSON body: a failed try is repeated once after a pause,
// when ctx leaves time for it. A chat that answered with an error code (a
// wrong signature, a keyword missing) is not tried again: the same post
// would be refused alike.
func (w *Webhook) send(ctx context.Context, payload any) error {
	target, payload := w.sign(payload)
	body, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	client := w.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	timeout := w.AttemptTimeout
	if timeout <= 0 {
		timeout = PostAttemptTimeout
	}
	try := 1
	var refused *RefusedError
	for ; ; try++ {
		err = w.try(ctx, client, timeout, target, body)
		if err == nil || errors.As(err, &refused) || try == PostAttempts || !pause(ctx, postPause) {
			break
		}
	}
	if err != nil && try > 1 {
		return fmt.Errorf("%w (after %d tries)", err, try)
	}
	return err
}

// pause waits d, or less when ctx ends first; it reports whether ctx
// still goes on.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// label names the destination in errors: its number and its URL's scheme
// and host only.
func (w *Webhook) label() string {
	if w.Name == "" {
		return "webhook " + redactURL(w.URL)
	}
	return "webhook " + w.Name + " " + redactURL(w.URL)
}

// try posts body to target once, within timeout.
func (w *Webhook) try(ctx context.Context, client *http.Client, timeout time.Duration, target string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", w.label(), unwrapURLError(err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", w.label(), unwrapURLError(err))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered HTTP %d", w.label(), resp.StatusCode)
	}
	if err := refusal(w.Format, answer); err != nil {
		return fmt.Errorf("%s: %w", w.label(), err)
	}
	return nil
}

// chat shapes a text for a chat format.
func (w *Webhook) chat(text string) any {
	switch w.Format {
	case FormatDingTalk:
		return map[string]any{"msgtype": "text", "text": map[string]string{"content": text}}
	case FormatFeishu:
		return map[string]any{"msg_type": "text", "content": map[string]string{"text": text}}
	case FormatWeCom:
		// WeCom's text content is at most 2048 bytes of UTF-8
		// (https://developer.work.weixin.qq.com/document/path/91770).
		return map[string]any{"msgtype": "text", "text": map[string]string{"content": clipBytes(text, weComMaxText)}}
	}
	return map[string]any{"text": text}
}

// weComMaxText is the most bytes a WeCom robot's text message holds.
const weComMaxText = 2048

// clipBytes cuts s to at most n bytes on a character boundary, ending it
// with "…" when cut.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = "…"
	cut := n - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}

// payload shapes the message for the webhook's format.
func (w *Webhook) payload(r *Report) any {
	text := Text(r)
	if w.Format != "" && w.Format != FormatJSON {
		return w.chat(text)
	}
	return map[string]any{"text": text, "runId": r.RunID, "trigger": r.Trigger, "requestId": r.RequestID,
		"bundle": r.Bundle, "summary": r.Summary, "failures": failures(r, 20), "skipped": skipped(r, 20),
		"mode": r.Mode, "cas": r.CAS}
}

// Text is the short human summary a webhook posts: the bundle, the summary
// line, and up to ten targets that did not end well.
func Text(r *Report) string {
	var b strings.Builder
	mode := ""
	if r.Mode != "" {
		mode = " " + r.Mode + " to"
	}
	fmt.Fprintf(&b, "certdrop %s%s: %s (%s)\n%s\n", r.Trigger, mode, r.Bundle.Subject, r.Bundle.CertName, SummaryLine(r))
	for _, c := range r.CAS {
		b.WriteString(casLine(c) + "\n")
	}
	fs := failures(r, 10)
	for _, t := range fs {
		fmt.Fprintf(&b, "- %s: %s %s\n", t.Name(), t.State, detail(t))
	}
	if n := r.Summary.Failed + r.Summary.NotStarted + r.Summary.NotCovered; n > len(fs) {
		fmt.Fprintf(&b, "(and %d more; see the report of run %s)\n", n-len(fs), r.RunID)
	}
	sk := skipped(r, 10)
	for _, t := range sk {
		fmt.Fprintf(&b, "- %s: %s %s\n", t.Name(), t.State, detail(t))
	}
	if n := r.Summary.SkippedNewer; n > len(sk) {
		fmt.Fprintf(&b, "(and %d more skipped; see the report of run %s)\n", n-len(sk), r.RunID)
	}
	return b.String()
}

// skipped lists up to n targets left as they were because they carry a
// newer certificate: the renewal did not reach them, and a person should
// know.
func skipped(r *Report, n int) []Target {
	var out []Target
	for _, t := range r.Targets {
		if t.State == fanout.SkippedNewer && len(out) < n {
			out = append(out, t)
		}
	}
	return out
}

func failures(r *Report, n int) []Target {
	var out []Target
	for _, t := range r.Targets {
		if !t.State.OK() && len(out) < n {
			out = append(out, t)
		}
	}
	return out
}

// redactURL keeps a URL's scheme and host only: paths and queries of chat
// webhooks carry tokens.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<webhook>"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// unwrapURLError drops *url.Error's copy of the full URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
