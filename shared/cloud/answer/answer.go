// Package answer reads values out of an OpenAPI answer's JSON body as
// shared/cloud returns it: the SDK decodes numbers as json.Number, and an
// API answers some IDs as numbers and others as strings.
package answer

import (
	"encoding/json"
	"strconv"
)

// Objects returns v as a list of objects: the elements of a JSON array
// that are objects, none when v is not an array.
func Objects(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// String returns a JSON string as it is and a JSON number in decimal
// ("1234567" for an ID answered as a number); "" for anything else.
func String(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// Int returns a JSON number or a string of decimal digits as an int; 0
// for anything else (a fraction included).
func Int(v any) int {
	n, _ := strconv.Atoi(String(v))
	return n
}

// Int64 reads a JSON number as the SDK decodes it (json.Number, float64,
// an integer) or a string of decimal digits; ok is false for anything
// else.
func Int64(v any) (n int64, ok bool) {
	switch v := v.(type) {
	case float64:
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	case json.Number:
		i, err := v.Int64()
		return i, err == nil
	case string:
		i, err := strconv.ParseInt(v, 10, 64)
		return i, err == nil
	}
	return 0, false
}
