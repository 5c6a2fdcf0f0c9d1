package cloudsim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// OSSFaults makes the OSS emulator fail the way OSS does under load,
// deterministically, as Faults does for the OpenAPI: every decision
// derives from a hash of (Seed, operation, bucket, key, attempt number),
// where the attempt number counts the authenticated requests of that
// operation on that bucket and key (for ListObjects, the prefix). An
// injected fault is decided before the operation: nothing is read,
// written or triggered. The zero value injects nothing.
type OSSFaults struct {
	// Seed varies the pseudo-random decisions.
	Seed uint64 `yaml:"seed"`
	// ErrorRate is the fraction of requests answered with a 5xx:
	// ServiceUnavailable (503) or InternalError (500), in equal parts.
	ErrorRate float64 `yaml:"errorRate"`
	// ResetRate is the fraction of requests whose connection is reset
	// (TCP RST) before any answer.
	ResetRate float64 `yaml:"resetRate"`
	// Scripted failures, checked before the rates.
	Scripted []OSSScript `yaml:"scripted"`
}

// OSSScript fails the first requests of an operation on a key: "the first
// 2 GetObject calls on certs/a.pem are answered 503".
type OSSScript struct {
	// API is the operation ("GetObject", "HeadObject", "ListObjects",
	// "PutObject", ...); empty means every operation, each counted
	// separately.
	API string `yaml:"api"`
	// Key is the object key, or for ListObjects the prefix; "*" matches
	// every key. Empty matches only requests without one.
	Key string `yaml:"key"`
	// Fault is "error" (the default) or "reset".
	Fault string `yaml:"fault"`
	// Code and Status make the error answer: ServiceUnavailable and 503
	// by default, InternalError is 500.
	Code   string `yaml:"code"`
	Status int    `yaml:"status"`
	// Times is how many requests fail, starting with the first; 0 means 1.
	Times int `yaml:"times"`
	// After skips this many requests before the failures start.
	After int `yaml:"after"`
}

// validate checks the rates and scripts.
func (f *OSSFaults) validate() error {
	for name, r := range map[string]float64{"errorRate": f.ErrorRate, "resetRate": f.ResetRate} {
		if r < 0 || r > 1 || math.IsNaN(r) {
			return fmt.Errorf("oss.faults.%s must be between 0 and 1, not %v", name, r)
		}
	}
	if f.ErrorRate+f.ResetRate > 1 {
		return fmt.Errorf("oss.faults: errorRate + resetRate exceed 1")
	}
	for i, s := range f.Scripted {
		switch s.Fault {
		case "", "error", "reset":
		default:
			return fmt.Errorf("oss.faults.scripted[%d]: fault must be error or reset, not %q", i, s.Fault)
		}
		if s.Times < 0 || s.After < 0 || (s.Status != 0 && (s.Status < 400 || s.Status > 599)) {
			return fmt.Errorf("oss.faults.scripted[%d]: times and after must not be negative, status must be 400-599", i)
		}
	}
	return nil
}

// ossAttempts counts the requests per operation, bucket and key.
type ossAttempts struct {
	mu sync.Mutex
	n  map[string]int
}

func (a *ossAttempts) next(api, bucket, key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == nil {
		a.n = map[string]int{}
	}
	k := api + "\x00" + bucket + "\x00" + key
	a.n[k]++
	return a.n[k]
}

// decide returns the fault of the attempt-th request of api on bucket and
// key: faultNone, fault5xx or faultScripted with the error, or faultReset.
func (f *OSSFaults) decide(api, bucket, key string, attempt int) (string, *ossError) {
	for _, s := range f.Scripted {
		if (s.API != "" && s.API != api) || (s.Key != "*" && s.Key != key) {
			continue
		}
		times := max(s.Times, 1)
		if attempt <= s.After || attempt > s.After+times {
			continue
		}
		if s.Fault == "reset" {
			return faultReset, nil
		}
		e := &ossError{http.StatusServiceUnavailable, "ServiceUnavailable", "Please reduce your request rate."}
		if s.Code != "" {
			e.code = s.Code
			if s.Code == "InternalError" {
				e.status, e.message = http.StatusInternalServerError, "We encountered an internal error. Please try again."
			} else {
				e.message = s.Code
			}
		}
		if s.Status != 0 {
			e.status = s.Status
		}
		return faultScripted, e
	}
	h := sha256.New()
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], f.Seed)
	h.Write(seed[:])
	h.Write([]byte("\x00" + api + "\x00" + bucket + "\x00" + key + "\x00" + strconv.Itoa(attempt)))
	sum := h.Sum(nil)
	r := rand.New(rand.NewPCG(binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16])))
	// Draw every value whatever is used, in a fixed order.
	u, which := r.Float64(), r.Float64()
	switch {
	case u < f.ResetRate:
		return faultReset, nil
	case u < f.ResetRate+f.ErrorRate:
		if which < 0.5 {
			return fault5xx, &ossError{http.StatusServiceUnavailable, "ServiceUnavailable", "Please reduce your request rate."}
		}
		return fault5xx, &ossError{http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."}
	}
	return faultNone, nil
}

// resetConn closes a request's connection with a TCP RST, answering
// nothing: the client sees "connection reset by peer".
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
