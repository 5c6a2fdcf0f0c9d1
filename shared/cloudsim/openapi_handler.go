package cloudsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxOpenAPIBody caps a request body: a certificate chain and key are a few
// kilobytes, and the certificate alone may be MaxCertificateBytes.
const maxOpenAPIBody = 1 << 20

// acsRequestID returns a request ID shaped like the OpenAPI's: an
// upper-case UUID.
func acsRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// openAPIHandler serves every emulated product on one listener; the
// x-acs-action header (or the Action parameter) names the operation.
// region is the CAS region its CAS actions act on; casOnly makes it the
// endpoint of that region alone (other products' actions are not found
// there).
type openAPIHandler struct {
	s       *Sim
	region  string
	casOnly bool
}

// ServeHTTP answers one OpenAPI request.
func (h openAPIHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	region := h.region
	if region == "" {
		region = CASRegionHangzhou
	}
	h.s.serveOpenAPI(w, r, region, h.casOnly)
}

// call is one request on its way through the emulator.
type call struct {
	w       http.ResponseWriter
	r       *http.Request
	entry   Entry
	api     apiSpec
	rate    *rateInfo
	product string
	// region is the CAS region of the endpoint the call came to.
	region string
	// body is the request body as received (an ROA operation's JSON).
	body []byte
	// cred is the caller's credential, account the ID of the account it
	// acts in (sts.go), once authenticated.
	cred    Credential
	account string
}

// serveOpenAPI answers one request: route, authenticate, apply the quota,
// inject faults, then validate and apply the operation. Every request gets
// exactly one journal entry, recorded before the answer is written.
func (s *Sim) serveOpenAPI(w http.ResponseWriter, r *http.Request, region string, casOnly bool) {
	c := &call{w: w, r: r, region: region, entry: Entry{Time: time.Now().UTC(), RequestID: acsRequestID()}}

	body, params, e := readOpenAPIRequest(c)
	if e != nil {
		s.fail(c, e)
		return
	}
	c.body = body

	action := r.Header.Get("x-acs-action")
	if action == "" {
		action = params.Get("Action")
	}
	c.entry.API = action
	version := r.Header.Get("x-acs-version")
	if version == "" {
		version = params.Get("Version")
	}
	api, ok, known := lookupVersion(action, version)
	if !ok && known {
		// A known action in a version no product has.
		api, _ = lookupAPI(action)
	}
	if !known || (casOnly && api.product != ProductCAS) {
		s.fail(c, newAPIError("", "InvalidAction.NotFound"))
		return
	}
	c.api, c.product = api, api.product
	c.entry.Service = api.product
	if e := routeROA(api, r, params); e != nil {
		s.fail(c, e)
		return
	}
	if api.journal != nil {
		api.journal(s, c, params)
	}
	if !ok {
		s.fail(c, newAPIError(api.product, "InvalidVersion"))
		return
	}

	keyID, aerr := s.authenticate(r, body, time.Now().UTC())
	if aerr != nil {
		s.fail(c, aerr)
		return
	}
	c.cred, c.account, _ = s.credential(keyID, time.Now())
	c.entry.Account = c.account
	// The call acts in its credential's account: that account's
	// resources, quotas and attempt counts.
	s.accountSim(c.account).serveAuthenticated(c, params)
}

// serveAuthenticated answers an authenticated call in s's account:
// authorize, apply the quota, inject faults, then validate and apply the
// operation.
func (s *Sim) serveAuthenticated(c *call, params url.Values) {
	r, api, action := c.r, c.api, c.api.action
	if slices.Contains(c.cred.DenyActions, action) {
		s.fail(c, newAPIError(api.product, "Forbidden.RAM"))
		return
	}
	if authorize := lookupProduct(api.product).authorize; authorize != nil {
		if e := authorize(c.cred, c); e != nil {
			s.fail(c, e)
			return
		}
	}

	ok, rate, at := s.quotas.allow(api.product+"/"+action, action, time.Now)
	c.entry.Time, c.rate = at.UTC(), rate
	if !ok {
		e := newAPIError(api.product, "Throttling.User")
		e.rate = rate
		s.fail(c, e)
		return
	}

	c.entry.Attempt = s.nextAttempt(action, c.entry.Domain)
	d := s.cfg.Faults.decide(api.product, action, c.entry.Domain, c.entry.Attempt)
	if d.kind != faultNone {
		c.entry.Fault = d.kind
	}
	switch d.kind {
	case faultReset:
		s.reset(c)
		return
	case faultScripted, faultThrottle, fault5xx:
		if strings.HasPrefix(d.err.code, "Throttling") || d.err.code == "Rejected.Throttling" || d.err.status == http.StatusTooManyRequests {
			// An injected throttle carries a TimeLeft hint: half a second
			// unless Faults.ThrottleTimeLeft says otherwise.
			if left := s.cfg.Faults.throttleTimeLeft(); left > 0 {
				d.err.rate = &rateInfo{limit: rateLimit(rate), timeLeft: left, reset: time.Now().Add(left)}
			}
		}
		if !s.wait(r, d.latency) {
			s.abandon(c)
			return
		}
		s.fail(c, d.err)
		return
	}
	if !s.wait(r, d.latency) {
		s.abandon(c)
		return
	}

	status := http.StatusOK
	resp, e := api.handle(s, c, params)
	if d.kind == faultResetApplied {
		code := ""
		if e != nil {
			code = e.code
		}
		s.resetApplied(c, code)
		return
	}
	if e != nil {
		if d.kind == faultSlow {
			s.record(c, e.status, e.code)
			s.wait(r, d.slow)
			s.write(c, e.status, s.errorBody(c, e), e.rate)
			return
		}
		s.fail(c, e)
		return
	}
	s.record(c, status, "")
	if d.kind == faultSlow {
		s.wait(r, d.slow)
	}
	s.write(c, status, resp, nil)
}

// readOpenAPIRequest reads a request's body (the signature covers it) and
// its parameters, from the query string and a form body, and fills the
// journal fields every product shares.
func readOpenAPIRequest(c *call) ([]byte, url.Values, *apiError) {
	w, r := c.w, c.r
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOpenAPIBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, nil, &apiError{status: http.StatusRequestEntityTooLarge, code: "RequestEntityTooLarge",
				message: "The request body is too large."}
		}
		return nil, nil, &apiError{status: http.StatusBadRequest, code: "InvalidParameter", message: "The request body cannot be read."}
	}
	params := r.URL.Query()
	inQuery, inBody := len(params) > 0, false
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, nil, &apiError{status: http.StatusBadRequest, code: "InvalidParameter", message: "The request body is not a valid form."}
		}
		inBody = len(form) > 0
		for k, v := range form {
			params[k] = v
		}
	}
	switch {
	case inQuery && inBody:
		c.entry.ParamsIn = "both"
	case inQuery:
		c.entry.ParamsIn = "query"
	case inBody:
		c.entry.ParamsIn = "body"
	}
	c.entry.Domain = strings.ToLower(strings.TrimSpace(params.Get("DomainName")))
	c.entry.CertName = params.Get("CertName")
	c.entry.Env = params.Get("Env")
	c.entry.CertType = params.Get("CertType")
	// A private key crossed the wire, whatever happens next.
	c.entry.KeySent = params.Get("SSLPri") != "" || params.Get("PrivateKey") != "" || params.Get("Key") != ""
	return body, params, nil
}

func rateLimit(ri *rateInfo) int {
	if ri == nil {
		return 0
	}
	return ri.limit
}

// nextAttempt counts the calls of action for domain that got past the
// quota, starting at 1.
func (s *Sim) nextAttempt(action, domain string) int {
	s.attemptsMu.Lock()
	defer s.attemptsMu.Unlock()
	k := action + "\x00" + domain
	s.attempts[k]++
	return s.attempts[k]
}

// wait sleeps d, or until the client goes away or the emulator closes; it
// reports whether the full delay elapsed.
func (s *Sim) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	}
}

// record adds the call's journal entry.
func (s *Sim) record(c *call, status int, code string) {
	c.entry.Status, c.entry.Code = status, code
	c.entry.Outcome = "ok"
	if code != "" || status >= 400 {
		c.entry.Outcome = "error"
	}
	s.journal.Record(c.entry)
	s.log.Debug("openapi call", "api", c.entry.API, "domain", c.entry.Domain, "status", status,
		"code", code, "attempt", c.entry.Attempt, "fault", c.entry.Fault, "requestId", c.entry.RequestID)
}

// fail records and writes an error answer.
func (s *Sim) fail(c *call, e *apiError) {
	s.record(c, e.status, e.code)
	rate := e.rate
	s.write(c, e.status, s.errorBody(c, e), rate)
}

// abandon records a call whose client went away during the latency delay;
// nothing was applied and nothing is written.
func (s *Sim) abandon(c *call) {
	c.entry.Outcome, c.entry.Status = "abandoned", 0
	s.journal.Record(c.entry)
}

// reset records the call, then closes its connection with a TCP RST
// before any answer: the client sees "connection reset by peer".
func (s *Sim) reset(c *call) {
	c.entry.Outcome, c.entry.Status = "reset", 0
	s.journal.Record(c.entry)
	resetConn(c.w)
}

// resetApplied records a call that was applied (outcome "ok", or "error"
// with code when the operation refused it) but never answered (status 0),
// then resets its connection: the state changed, the client sees only a
// network error.
func (s *Sim) resetApplied(c *call, code string) {
	c.entry.Outcome, c.entry.Status, c.entry.Code = "ok", 0, code
	if code != "" {
		c.entry.Outcome = "error"
	}
	s.journal.Record(c.entry)
	s.log.Debug("openapi call", "api", c.entry.API, "domain", c.entry.Domain, "status", 0,
		"code", code, "attempt", c.entry.Attempt, "fault", c.entry.Fault, "requestId", c.entry.RequestID)
	resetConn(c.w)
}

// gatewayHostID is the HostId of an answer that names no product: an
// unknown action, or a request refused before its action was read.
const gatewayHostID = "cdn.aliyuncs.com"

// errorBody is the JSON error answer of the real services.
func (s *Sim) errorBody(c *call, e *apiError) map[string]string {
	host, product := gatewayHostID, ""
	if p := lookupProduct(c.product); p != nil {
		host, product = p.hostID(c.region), p.code
	}
	return map[string]string{
		"RequestId": c.entry.RequestID,
		"HostId":    host,
		"Code":      e.code,
		"Message":   e.message,
		"Recommend": "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(e.code) + "&product=" + product + "&requestId=" + c.entry.RequestID,
	}
}

// write sends a JSON answer with the OpenAPI's headers.
func (s *Sim) write(c *call, status int, v any, rate *rateInfo) {
	if rate == nil {
		rate = c.rate
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("x-acs-request-id", c.entry.RequestID)
	if rate != nil {
		h.Set("x-ratelimit-user-api", rate.header())
	}
	b, _ := json.Marshal(v)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
}
