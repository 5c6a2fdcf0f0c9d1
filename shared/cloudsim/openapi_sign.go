package cloudsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// acsAlgorithm is the only signature algorithm the emulator accepts: the
// one darabonba-openapi uses by default (V3 signature).
const acsAlgorithm = "ACS3-HMAC-SHA256"

// acsMaxSkew is how far x-acs-date may be from the emulator's clock.
const acsMaxSkew = 15 * time.Minute

// acsRequiredSigned are the headers every V3 signature must cover.
func acsRequiredSigned() []string {
	return []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"}
}

// acsAuthorization is a parsed Authorization header:
// "ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>".
type acsAuthorization struct {
	algorithm     string
	accessKeyID   string
	signedHeaders []string
	signature     string
}

func parseACSAuthorization(h string) (acsAuthorization, bool) {
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return acsAuthorization{}, false
	}
	a := acsAuthorization{algorithm: alg}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return acsAuthorization{}, false
		}
		switch k {
		case "Credential":
			a.accessKeyID = v
		case "SignedHeaders":
			if v != "" {
				a.signedHeaders = strings.Split(v, ";")
			}
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKeyID == "" || a.signature == "" || len(a.signedHeaders) == 0 {
		return acsAuthorization{}, false
	}
	return a, true
}

// acsEscape percent-encodes like the SDK's canonical query string:
// url.QueryEscape, then "+"→"%20", "*"→"%2A", "%7E"→"~".
func acsEscape(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

// acsCanonicalQuery sorts the query parameters by name and encodes them.
func acsCanonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, acsEscape(k)+"="+acsEscape(v))
		}
	}
	return strings.Join(parts, "&")
}

// acsCanonicalURI is the request path as the SDK signs it.
func acsCanonicalURI(r *http.Request) string {
	p := r.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	p = strings.ReplaceAll(p, "+", "%20")
	p = strings.ReplaceAll(p, "*", "%2A")
	return strings.ReplaceAll(p, "%7E", "~")
}

// acsStringToSign rebuilds the canonical request from what arrived and
// returns the string the client must have signed. payloadHash is the
// hex SHA-256 of the body as received.
func acsStringToSign(r *http.Request, signed []string, payloadHash string) string {
	var ch strings.Builder
	for _, name := range signed {
		var vals []string
		if name == "host" {
			vals = []string{r.Host}
		} else {
			for _, v := range r.Header.Values(name) {
				vals = append(vals, strings.TrimSpace(v))
			}
		}
		sort.Strings(vals)
		ch.WriteString(name + ":" + strings.Join(vals, ",") + "\n")
	}
	canonical := r.Method + "\n" + acsCanonicalURI(r) + "\n" + acsCanonicalQuery(r.URL.Query()) + "\n" +
		ch.String() + "\n" + strings.Join(signed, ";") + "\n" + payloadHash
	sum := sha256.Sum256([]byte(canonical))
	return acsAlgorithm + "\n" + hex.EncodeToString(sum[:])
}

// acsSign computes the hex HMAC-SHA256 signature of stringToSign.
func acsSign(secret, stringToSign string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}

// nonceCache remembers the signature nonces seen within the clock-skew
// window, so a replayed request is answered SignatureNonceUsed.
type nonceCache struct {
	mu      sync.Mutex
	seen    map[string]time.Time
	inserts int
}

// use records nonce and reports whether it was fresh.
func (c *nonceCache) use(nonce string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	if t, ok := c.seen[nonce]; ok && now.Sub(t) < 2*acsMaxSkew {
		return false
	}
	c.seen[nonce] = now
	c.inserts++
	if c.inserts%4096 == 0 {
		for n, t := range c.seen {
			if now.Sub(t) >= 2*acsMaxSkew {
				delete(c.seen, n)
			}
		}
	}
	return true
}

// authenticate checks a request's V3 signature against the configured
// credentials. body is the request body as received. It returns the
// access key ID on success.
func (s *Sim) authenticate(r *http.Request, body []byte, now time.Time) (string, *apiError) {
	auth, ok := parseACSAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return "", newAPIError("", "IncompleteSignature")
	}
	if auth.algorithm != acsAlgorithm {
		return "", newAPIError("", "IncompleteSignature").withMessage(
			"The request signature does not conform to Aliyun standards: only " + acsAlgorithm + " is supported.")
	}
	cred, _, ok := s.credential(auth.accessKeyID, now)
	if !ok {
		return "", newAPIError("", "InvalidAccessKeyId.NotFound")
	}
	signed := map[string]bool{}
	for i, h := range auth.signedHeaders {
		if h != strings.ToLower(h) || (i > 0 && auth.signedHeaders[i-1] >= h) {
			return "", newAPIError("", "IncompleteSignature").withMessage(
				"The request signature does not conform to Aliyun standards: SignedHeaders must be lower-case and sorted.")
		}
		signed[h] = true
	}
	for _, h := range acsRequiredSigned() {
		if !signed[h] {
			return "", newAPIError("", "IncompleteSignature").withMessage(
				"The request signature does not conform to Aliyun standards: header " + h + " must be signed.")
		}
	}
	for name := range r.Header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "x-acs-") && !signed[l] {
			return "", newAPIError("", "IncompleteSignature").withMessage(
				"The request signature does not conform to Aliyun standards: header " + l + " must be signed.")
		}
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if r.Header.Get("x-acs-content-sha256") != payloadHash {
		return "", newAPIError("", "SignatureDoesNotMatch").withMessage(
			"Specified signature does not match our calculation: x-acs-content-sha256 is not the SHA-256 of the body.")
	}
	sts := acsStringToSign(r, auth.signedHeaders, payloadHash)
	want := acsSign(cred.AccessKeySecret, sts)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(auth.signature))) != 1 {
		// The real service echoes its string to sign, which holds only a
		// hash of the canonical request: no secret, no parameter value.
		return "", newAPIError("", "SignatureDoesNotMatch").withMessage(
			"Specified signature does not match our calculation. server string to sign is:" + sts)
	}
	if cred.Disabled {
		return "", newAPIError("", "InvalidAccessKeyId.Inactive")
	}
	token := r.Header.Get("x-acs-security-token")
	switch {
	case cred.SecurityToken == "" && token != "":
		return "", newAPIError("", "InvalidSecurityToken.Malformed")
	case cred.SecurityToken != "" && token == "":
		return "", newAPIError("", "InvalidSecurityToken.MismatchWithAccessKey")
	case cred.SecurityToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(cred.SecurityToken)) != 1:
		return "", newAPIError("", "InvalidSecurityToken.MismatchWithAccessKey")
	case cred.SecurityToken != "" && cred.Expired:
		return "", newAPIError("", "InvalidSecurityToken.Expired")
	}
	date, err := time.Parse("2006-01-02T15:04:05Z", r.Header.Get("x-acs-date"))
	if err != nil || date.Sub(now) > acsMaxSkew || now.Sub(date) > acsMaxSkew {
		return "", newAPIError("", "InvalidTimeStamp.Expired")
	}
	if !s.nonces.use(r.Header.Get("x-acs-signature-nonce"), now) {
		return "", newAPIError("", "SignatureNonceUsed")
	}
	return auth.accessKeyID, nil
}
