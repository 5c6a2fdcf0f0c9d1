package cloud

import (
	"strconv"
	"strings"
	"time"
)

// ossCnameTime is RFC 1123 with a day of one or two digits: time.Parse
// reads "2" as either, where time.RFC1123's "02" takes only two.
const ossCnameTime = "Mon, 2 Jan 2006 15:04:05 MST"

// ParseTime reads the times the APIs answer:
// "2018-06-03T22:03:39Z", the same without seconds, "2018-06-03 22:03:39"
// (taken as UTC), OSS ListCname's "Wed, 12 Apr 2023 10:14:51 GMT" with a
// day of one or two digits ("Mon, 4 May 2048 10:14:51 GMT", as the OSS
// SDK's ListCname fixture writes it), or Unix milliseconds.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z", "2006-01-02 15:04:05", time.RFC1123, ossCnameTime} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > 0 {
		return time.UnixMilli(ms).UTC(), true
	}
	return time.Time{}, false
}
