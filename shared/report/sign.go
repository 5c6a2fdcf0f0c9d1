package report

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DingTalkSign is a DingTalk custom robot's signature ("加签"): the string
// timestamp + "\n" + secret, HmacSHA256 keyed with the secret, in Base64;
// the timestamp is in milliseconds and must lie within an hour of
// DingTalk's clock. Both go in the webhook URL's query as timestamp and
// sign, the sign URL-encoded. See "Customize robot security settings",
// https://open.dingtalk.com/document/robots/customize-robot-security-settings
// (https://help.dingtalk.io/open/dingstart/customize-robot-security-settings).
func DingTalkSign(secret string, at time.Time) (timestamp, sign string) {
	timestamp = strconv.FormatInt(at.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "\n" + secret))
	return timestamp, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// FeishuSign is a Feishu (Lark) custom bot's signature ("签名校验"):
// HmacSHA256 keyed with timestamp + "\n" + secret over an empty message,
// in Base64; the timestamp is in seconds and must lie within an hour of
// Feishu's clock. Both go in the JSON body as "timestamp" (a string) and
// "sign". See "Custom bot usage guide", section "Signature verification",
// https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot.
func FeishuSign(secret string, at time.Time) (timestamp, sign string) {
	timestamp = strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(timestamp+"\n"+secret))
	return timestamp, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// sign returns where to post and what: for a signed dingtalk destination
// the URL with timestamp and sign added to its query, for a signed feishu
// one the payload with its timestamp and sign fields. The secret itself
// is never sent.
func (w *Webhook) sign(payload any) (string, any) {
	if w.Secret == "" {
		return w.URL, payload
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	switch w.Format {
	case FormatDingTalk:
		ts, sig := DingTalkSign(w.Secret, now())
		sep := "?"
		if strings.Contains(w.URL, "?") {
			sep = "&"
		}
		return w.URL + sep + "timestamp=" + ts + "&sign=" + url.QueryEscape(sig), payload
	case FormatFeishu:
		m, ok := payload.(map[string]any)
		if !ok {
			return w.URL, payload
		}
		ts, sig := FeishuSign(w.Secret, now())
		m = maps.Clone(m)
		m["timestamp"], m["sign"] = ts, sig
		return w.URL, m
	}
	return w.URL, payload
}

// RefusedError is a chat's answer of HTTP 200 with an error code in its
// body: DingTalk and WeCom answer {"errcode":310000,"errmsg":"..."} (a
// wrong signature, a keyword missing, too many messages), Feishu
// {"code":19021,"msg":"..."}. The message was not delivered.
type RefusedError struct {
	Code    int
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the chat refused the message: code %d: %s", e.Code, e.Message)
}

// refusal reads a chat's 2xx answer: a RefusedError when it carries a
// non-zero error code, nil otherwise (an answer that is not JSON, or json
// and slack endpoints, whose failures are HTTP statuses).
func refusal(format string, answer []byte) error {
	var a struct {
		Errcode    *int   `json:"errcode"`
		Errmsg     string `json:"errmsg"`
		Code       *int   `json:"code"`
		Msg        string `json:"msg"`
		StatusCode *int   `json:"StatusCode"`
	}
	switch format {
	case FormatDingTalk, FormatWeCom, FormatFeishu:
	default:
		return nil
	}
	if json.Unmarshal(answer, &a) != nil {
		return nil
	}
	code, msg := 0, ""
	switch {
	case a.Errcode != nil:
		code, msg = *a.Errcode, a.Errmsg
	case a.Code != nil:
		code, msg = *a.Code, a.Msg
	case a.StatusCode != nil:
		code = *a.StatusCode
	}
	if code == 0 {
		return nil
	}
	return &RefusedError{Code: code, Message: clipBytes(msg, 200)}
}
